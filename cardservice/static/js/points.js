// Registration form: a running total of document points next to the checkboxes.
// Progressive enhancement: without JavaScript the form works and the server counts the
// points when it is sent. The sentences (plurals included) come from the server, one per
// possible total, in data-msg-N attributes of the live region, so nothing is translated here.

const total = document.getElementById("points-total");
const boxes = document.querySelectorAll('input[type="checkbox"][name="documents"]');

function update() {
  let points = 0;
  for (const box of boxes) {
    if (box.checked) points += Number(box.dataset.points || 0);
  }
  const msg = total.getAttribute(`data-msg-${points}`);
  if (msg !== null && total.textContent !== msg) total.textContent = msg;
  total.hidden = false;
}

if (total && boxes.length) {
  for (const box of boxes) box.addEventListener("change", update);
  update();
}
