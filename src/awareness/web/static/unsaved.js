// Warns before typed edits are lost on pages of many separate forms (the bulletin editor,
// the review queue and a match's page): pressing one form's button sends only that form,
// and the page that comes back has lost what was typed in the others. A form marked
// data-unsaved="what it holds" counts as unsaved while a field differs from what the page
// was served with. Submitting another form asks first, naming what is unsaved; leaving the
// page asks through the browser's own beforeunload question. Nothing is carried over: the
// warning only lets the person go back and save. Without this script the page works as
// before, without the warnings.
(function () {
  "use strict";
  var forms = Array.prototype.slice.call(document.querySelectorAll("form[data-unsaved]"));
  if (forms.length === 0) {
    return;
  }
  var leaving = false;

  function changedSelect(select) {
    var options = Array.prototype.slice.call(select.options);
    var defaults = options.some(function (o) { return o.defaultSelected; });
    return options.some(function (o, index) {
      // With no option marked selected, the browser shows the first.
      var served = defaults ? o.defaultSelected : index === 0;
      return o.selected !== served;
    });
  }

  function changed(field) {
    if (field.tagName === "SELECT") {
      return changedSelect(field);
    }
    if (field.type === "checkbox" || field.type === "radio") {
      return field.checked !== field.defaultChecked;
    }
    return field.type !== "hidden" && field.value !== field.defaultValue;
  }

  function unsaved(except) {
    return forms.filter(function (form) {
      return form !== except &&
        Array.prototype.slice.call(form.elements).some(function (field) {
          return field.tagName !== "BUTTON" && changed(field);
        });
    }).map(function (form) { return form.getAttribute("data-unsaved"); });
  }

  document.addEventListener("submit", function (event) {
    var lost = unsaved(event.target);
    if (lost.length > 0 && !window.confirm(
      "Not saved yet: " + lost.join("; ") + ".\n\n" +
      "Cancel to go back and save it; OK to carry on and lose it.")) {
      event.preventDefault();
      return;
    }
    leaving = true;
  });

  window.addEventListener("beforeunload", function (event) {
    if (!leaving && unsaved(null).length > 0) {
      event.preventDefault();
      event.returnValue = "";  // older browsers ask only when this is set
    }
  });
  // Coming back to this page from the browser's history (back/forward cache).
  window.addEventListener("pageshow", function () { leaving = false; });
})();
