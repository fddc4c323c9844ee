// Applied in <head> before the first paint, so a pinned theme never flashes the other one.
(function () {
  try {
    var theme = localStorage.getItem("tw-theme");
    if (theme === "light" || theme === "dark") {
      document.documentElement.setAttribute("data-theme", theme);
    }
  } catch (e) { /* storage may be disabled: follow the system */ }
})();
