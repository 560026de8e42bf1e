// The dark-mode switch: System (the OS setting), Light or Dark, remembered in localStorage and set
// as data-theme on <html>, which app.css honours. A classic script loaded in <head>, so the chosen
// theme applies before the first paint (no flash of the other one on reload).
(() => {
  const KEY = "profai.theme";
  const THEMES = ["light", "dark"];
  const root = document.documentElement;
  const read = () => { try { return localStorage.getItem(KEY); } catch { return null; } };
  const apply = (theme) => {
    if (THEMES.includes(theme)) root.dataset.theme = theme; else delete root.dataset.theme;
    const select = document.getElementById("theme-select");
    if (select) select.value = THEMES.includes(theme) ? theme : "system";
  };

  apply(read());
  document.addEventListener("DOMContentLoaded", () => {
    const select = document.getElementById("theme-select");
    apply(read());
    select.addEventListener("change", () => {
      try {
        if (THEMES.includes(select.value)) localStorage.setItem(KEY, select.value); else localStorage.removeItem(KEY);
      } catch { /* kept for this page only */ }
      apply(select.value);
    });
  });
  window.addEventListener("storage", (event) => { if (event.key === KEY) apply(event.newValue); });  // other tabs
})();
