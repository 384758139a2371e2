// Full-resolution photo viewer with zoom and pan, shared by the doctor's console
// and the expert's page. Wheel or +/− to zoom, drag or arrows to pan, 0 to fit,
// double-click to zoom in; "Taille réelle" shows one image pixel per screen pixel.
// The dialog is built here, so both pages carry the same markup.

const $ = (id) => document.getElementById(id);
const view = { scale: 1, x: 0, y: 0, fit: 1, drag: null };

const MARKUP = `
  <div class="viewer-bar">
    <h2 id="viewer-title">Photo</h2>
    <span class="viewer-meta" id="viewer-meta"></span>
    <div class="viewer-tools">
      <button type="button" class="btn btn-small" id="viewer-zoom-out" aria-label="Dézoomer">−</button>
      <output id="viewer-zoom">100 %</output>
      <button type="button" class="btn btn-small" id="viewer-zoom-in" aria-label="Zoomer">+</button>
      <button type="button" class="btn btn-small" id="viewer-fit">Ajuster</button>
      <button type="button" class="btn btn-small" id="viewer-1to1">Taille réelle</button>
      <button type="button" class="btn btn-small" id="viewer-close">Fermer</button>
    </div>
  </div>
  <div class="viewer-canvas" id="viewer-canvas" tabindex="0"
       aria-label="Photo : molette pour zoomer, glisser pour déplacer, flèches pour déplacer">
    <img id="viewer-img" alt="" draggable="false">
  </div>`;

function applyView() {
  $("viewer-img").style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
  $("viewer-zoom").textContent = `${Math.round(view.scale * 100)} %`;
}

function fitView() {
  const img = $("viewer-img"), box = $("viewer-canvas");
  const w = img.naturalWidth || 1, h = img.naturalHeight || 1;
  view.fit = Math.min(box.clientWidth / w, box.clientHeight / h, 1);
  view.scale = view.fit;
  view.x = (box.clientWidth - w * view.scale) / 2;
  view.y = (box.clientHeight - h * view.scale) / 2;
  applyView();
}

function zoomAt(factor, cx, cy) {
  const box = $("viewer-canvas");
  if (cx == null) { cx = box.clientWidth / 2; cy = box.clientHeight / 2; }
  const next = Math.min(16, Math.max(view.fit * 0.5, view.scale * factor));
  view.x = cx - ((cx - view.x) * next) / view.scale;
  view.y = cy - ((cy - view.y) * next) / view.scale;
  view.scale = next;
  applyView();
}

/** Build the viewer dialog (once) and wire its gestures. */
export function setupViewer() {
  if ($("viewer")) return;
  const dialog = document.createElement("dialog");
  dialog.id = "viewer";
  dialog.className = "viewer";
  dialog.setAttribute("aria-labelledby", "viewer-title");
  dialog.innerHTML = MARKUP;
  document.body.append(dialog);
  const box = $("viewer-canvas");
  box.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = box.getBoundingClientRect();
    zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  box.addEventListener("pointerdown", (e) => {
    view.drag = { id: e.pointerId, x: e.clientX, y: e.clientY, ox: view.x, oy: view.y };
    box.setPointerCapture(e.pointerId);
    box.classList.add("dragging");
  });
  box.addEventListener("pointermove", (e) => {
    if (!view.drag || view.drag.id !== e.pointerId) return;
    view.x = view.drag.ox + e.clientX - view.drag.x;
    view.y = view.drag.oy + e.clientY - view.drag.y;
    applyView();
  });
  const end = () => { view.drag = null; box.classList.remove("dragging"); };
  box.addEventListener("pointerup", end);
  box.addEventListener("pointercancel", end);
  box.addEventListener("dblclick", (e) => { const r = box.getBoundingClientRect(); zoomAt(2, e.clientX - r.left, e.clientY - r.top); });
  box.addEventListener("keydown", (e) => {
    const step = 40;
    const keys = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (keys[e.key]) { view.x += keys[e.key][0]; view.y += keys[e.key][1]; applyView(); e.preventDefault(); }
    else if (e.key === "+" || e.key === "=") zoomAt(1.25);
    else if (e.key === "-") zoomAt(0.8);
    else if (e.key === "0") fitView();
  });
  $("viewer-zoom-in").addEventListener("click", () => zoomAt(1.25));
  $("viewer-zoom-out").addEventListener("click", () => zoomAt(0.8));
  $("viewer-fit").addEventListener("click", fitView);
  $("viewer-1to1").addEventListener("click", () => { const s = view.scale; zoomAt(1 / s); });
  $("viewer-close").addEventListener("click", () => $("viewer").close());
  window.addEventListener("resize", () => { if ($("viewer").open) fitView(); });
}

/** Show one photo: ``src`` at full resolution, a title, a line of details. */
export function openPhoto({ src, title, meta, alt }) {
  setupViewer();
  const img = $("viewer-img");
  $("viewer-title").textContent = title || "Photo";
  $("viewer-meta").textContent = meta || "";
  img.alt = alt || "Photo d’examen";
  img.onload = fitView;
  img.src = src;
  $("viewer").showModal();
  $("viewer-canvas").focus();
  if (img.complete && img.naturalWidth) fitView();
}
