// Copy buttons of the "Connect an agent" page: [data-copy] names the element whose text is copied.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent.trim());
    const label = button.innerHTML;
    button.innerHTML = '<i class="bi bi-check2"></i> Copied';
    setTimeout(() => { button.innerHTML = label; }, 1500);
  } catch (err) {
    window.getSelection().selectAllChildren(source);
  }
});
