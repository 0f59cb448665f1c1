"""The impact report (issue 17): its figures (``figures``), charts (``charts``, the only
module that imports the plotting library) and its HTML, CSV and JSON forms (``render``)."""
