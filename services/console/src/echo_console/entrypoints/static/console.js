// The console works without this file; it only moves keyboard focus to the first field a
// service refused, so a keyboard or screen-reader user lands where the fix is needed.
document.addEventListener("DOMContentLoaded", function () {
  var invalid = document.querySelector('[aria-invalid="true"]');
  if (invalid) { invalid.focus(); return; }
  var alert = document.querySelector('[role="alert"]');
  if (alert) { alert.setAttribute("tabindex", "-1"); alert.focus(); }
});
