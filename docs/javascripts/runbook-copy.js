// Copy buttons copy exactly the commands the docs tests executed.
// The hook (docs_site/) puts them on each block as data-rb-copy; mkdocs-material copies a
// button's data-clipboard-text when present (9.5: button.md-clipboard; 9.7+:
// nav.md-code__nav > button.md-code__button[data-md-type="copy"]), so we set it in the capture
// phase, before the theme's own click handler. Refusal examples (.rb-example) copy nothing.
(function () {
  var BUTTONS = 'button.md-clipboard, button.md-code__button[data-md-type="copy"]';
  document.addEventListener(
    "click",
    function (event) {
      var button = event.target.closest && event.target.closest(BUTTONS);
      if (!button) return;
      var block = button.closest(".rb-block");
      if (!block) return;
      if (block.classList.contains("rb-example")) {
        event.preventDefault();
        event.stopImmediatePropagation();
        return;
      }
      var text = block.getAttribute("data-rb-copy");
      if (text !== null) button.setAttribute("data-clipboard-text", text);
    },
    true,
  );
})();
