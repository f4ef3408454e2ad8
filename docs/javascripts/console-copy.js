// The copy button of a `console` transcript copies only the commands: "$ " prompts are
// stripped, "> " continuation lines are kept (without the marker), output and "? N" lines are
// dropped. mkdocs-material's clipboard integration prefers data-clipboard-text when present,
// so we set it in the capture phase, just before its own click handler runs.
(function () {
  function commandsOf(text) {
    const out = [];
    for (const line of text.split("\n")) {
      if (line.startsWith("$ ")) out.push(line.slice(2));
      else if (line.startsWith("> ") && out.length) out.push(line.slice(2));
    }
    return out.join("\n");
  }
  document.addEventListener(
    "click",
    function (event) {
      const button = event.target.closest(".language-console button.md-clipboard");
      if (!button) return;
      const code = button.closest(".language-console").querySelector("code");
      if (code) button.setAttribute("data-clipboard-text", commandsOf(code.textContent));
    },
    true,
  );
})();
