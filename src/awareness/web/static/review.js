// Keyboard shortcuts for the review page: j next, k previous, a approve, r reject, x tick.
// Progressive enhancement: every action is an ordinary form on the page, which works without
// this script; the keys only move between matches and press their buttons. The keys act on
// the marked match ("current"): the one j and k moved to, or the one last clicked or tabbed
// into.
(function () {
  "use strict";
  // Set when a key decided a match: the page that comes back puts the focus on the match now
  // marked, not on the top of the page, so keyboard and screen-reader users keep their place.
  var REFOCUS = "awareness-review-refocus";
  var refocus = sessionStorage.getItem(REFOCUS) === "1";
  sessionStorage.removeItem(REFOCUS);
  var matches = Array.prototype.slice.call(document.querySelectorAll("li.match"));
  if (matches.length === 0) {
    return;
  }
  var help = document.getElementById("keyboard-help");
  if (help) {
    help.hidden = false;
  }
  var KEY = "awareness-review-at:" + location.pathname + location.search;
  var stored = parseInt(sessionStorage.getItem(KEY) || "0", 10);
  var at = isNaN(stored) ? 0 : Math.min(Math.max(stored, 0), matches.length - 1);

  // The focus goes to the match's article, whose name is the match's title
  // (aria-labelledby), so a screen reader says which match it is.
  function show(index, focus) {
    matches[at].classList.remove("current");
    at = Math.min(Math.max(index, 0), matches.length - 1);
    matches[at].classList.add("current");
    if (focus) {
      matches[at].querySelector("article").focus();
      matches[at].scrollIntoView({block: "nearest"});
    }
  }

  // Pressing a button submits its form, with the notes typed in it, unless unsaved.js asks
  // about notes typed in another match and the person cancels.
  var pressing = false;
  function press(key) {
    var button = matches[at].querySelector('button[data-key="' + key + '"]');
    if (button) {
      pressing = true;
      button.click();
      pressing = false;
    }
  }

  // Heard on the window, after unsaved.js's question on the document: only a decision that
  // goes ahead leaves the place for the page that comes back.
  window.addEventListener("submit", function (event) {
    if (pressing && !event.defaultPrevented) {
      sessionStorage.setItem(KEY, String(at));
      sessionStorage.setItem(REFOCUS, "1");
    }
  });

  // The match someone clicks or tabs into is the one the keys decide. Without this, a
  // reviewer who typed a note in one match, clicked its text and pressed `a` approved the
  // match marked before, scrolled out of sight, and lost the note. No scrolling: the match
  // is already where they are.
  matches.forEach(function (match, index) {
    function work() {
      show(index, false);
    }
    match.addEventListener("focusin", work);
    match.addEventListener("pointerdown", work);
  });

  function typing(target) {
    var tag = target && target.tagName ? target.tagName.toLowerCase() : "";
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  // "Select all on this page" needs a script, so only the script adds it.
  var many = document.getElementById("many");
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input.select"));
  if (many && boxes.length > 1) {
    var all = document.createElement("button");
    all.type = "button";
    all.className = "button secondary small";
    all.textContent = "Select all on this page";
    all.addEventListener("click", function () {
      var tick = boxes.some(function (b) { return !b.checked; });
      boxes.forEach(function (b) { b.checked = tick; });
    });
    many.querySelector(".buttons").appendChild(all);
  }

  show(at, refocus);
  // A status shown with the page is not read out by screen readers (only a change to one
  // is), so the match that has the focus is described by it: "Approved: …" is heard with
  // the next match's title.
  var flash = document.getElementById("flash");
  if (refocus && flash) {
    matches[at].querySelector("article").setAttribute("aria-describedby", "flash");
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    var moves = {j: 1, k: -1};
    if (event.key in moves) {
      event.preventDefault();
      show(at + moves[event.key], true);
    } else if (event.key === "a" || event.key === "r") {
      event.preventDefault();
      press(event.key);
    } else if (event.key === "x") {
      var box = matches[at].querySelector("input.select");
      if (box) {
        event.preventDefault();
        box.checked = !box.checked;
      }
    }
  });
})();
