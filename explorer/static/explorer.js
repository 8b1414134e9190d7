// splinter explorer: the little the pages need beyond HTML.
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  // Runs list: ticking two runs fills the compare form and submits it.
  const picks = [...document.querySelectorAll('#runs input.pick')];
  const ticked = [];
  for (const p of picks) {
    p.addEventListener('change', () => {
      const i = ticked.indexOf(p);
      if (p.checked && i < 0) ticked.push(p);
      if (!p.checked && i >= 0) ticked.splice(i, 1);
      while (ticked.length > 2) ticked.shift().checked = false;
      if (ticked.length === 2) {
        // The older run is A: the list is newest first.
        const [x, y] = ticked.slice().sort((a, b) => picks.indexOf(b) - picks.indexOf(a));
        document.getElementById('cmp-a').value = x.value;
        document.getElementById('cmp-b').value = y.value;
        document.getElementById('compare').requestSubmit();
      }
    });
  }
  // Measurement page: copy the permanent link.
  for (const b of document.querySelectorAll('button.copy')) {
    const a = document.getElementById(b.dataset.copy);
    if (!a || !navigator.clipboard) continue;
    b.hidden = false;
    b.addEventListener('click', () => {
      navigator.clipboard.writeText(a.href).then(() => { b.textContent = 'copied'; });
    });
  }
});
