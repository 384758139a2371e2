// Expert page of a télé-expertise: read the material, check its hashes, answer.
// Plain ES module, no build step. The token is the last part of /expertise/<token>.
import { sha256Hex } from "./sha256.js";
import { openPhoto, setupViewer } from "./viewer.js";

const QUALITY = {
  finger_out: "doigt retiré", searching: "recherche du pouls", implausible: "valeur invraisemblable",
  low_perfusion: "perfusion faible", artifact: "artefact", sensor_fault: "défaut du capteur",
  motion: "mouvement", cuff_loose: "brassard mal serré", irregular_pulse: "pouls irrégulier",
  improper_position: "mauvaise position", not_a_number: "pas de valeur", out_of_range: "hors plage de mesure",
  clock_not_set: "horloge de l’appareil non réglée", early_estimate: "estimation provisoire", validated: "validée",
};
const EXAMS = { otoscope: "Otoscope", dermatoscope: "Dermatoscope" };
const SEX = { F: "femme", M: "homme", I: "sexe indéterminé" };
const BILLING = { TE2: "TE2 (médecin requis)", RQD: "RQD (médecin requérant)" };
const FIELDS = { name: "answer-name", rpps: "answer-rpps", conclusion: "answer-conclusion", prescriptions: "answer-prescriptions" };

const $ = (id) => document.getElementById(id);
const token = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const api = `/api/expertise/${encodeURIComponent(token)}`;
const page = { material: null, photos: [], clips: [] };
window.__expert = page;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") node.className = v; else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}
const fmtDateTime = (iso) => new Date(iso).toLocaleString("fr-FR", { dateStyle: "short", timeStyle: "short" });
const fmtTime = (iso) => new Date(iso).toLocaleTimeString("fr-FR", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const fmtDate = (iso) => new Date(`${iso}T12:00:00`).toLocaleDateString("fr-FR");
const fmtSeconds = (s) => `${s.toLocaleString("fr-FR", { maximumFractionDigits: 1 })} s`;

function fail(title, text) {
  $("loading").hidden = true;
  $("request-view").hidden = true;
  $("failure-title").textContent = title;
  $("failure-text").textContent = text;
  $("failure").hidden = false;
  document.body.dataset.phase = "failed";
}

async function readJson(response) {
  try { return await response.json(); } catch { return {}; }
}

// ---------------------------------------------------------------- material
function renderRequest(m) {
  const r = m.request, p = m.patient;
  $("station").textContent = r.station || "";
  if (r.expires_at) {
    $("expires").textContent = `Lien valable jusqu’au ${fmtDateTime(r.expires_at)}`;
    $("expires").hidden = false;
  }
  $("requested-at").textContent = r.sent_at ? `Demande du ${fmtDateTime(r.sent_at)}` : "";
  $("patient-name").textContent = p.name;
  $("patient-meta").textContent = `${SEX[p.sex] || p.sex}, ${p.age} ans — née ou né le ${fmtDate(p.birth_date)}`;
  if (r.requester) { $("requester").textContent = `Médecin requérant : ${r.requester}`; $("requester").hidden = false; }
  $("question").textContent = r.question;
  $("billing").textContent = `Facturation : ${r.billing.map((c) => BILLING[c] || c).join(", ")}.`;
  $("answer-name").value = r.expert.name || "";
}

async function fetchChecked(url, sha256) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const buffer = await response.arrayBuffer();
  const actual = await sha256Hex(buffer);
  return { buffer, ok: actual === String(sha256).toLowerCase(), actual };
}

function checkBadge(ok) {
  return el("span", { class: `check ${ok ? "ok" : "bad"}` },
    ok ? "✓ empreinte SHA-256 vérifiée" : "⚠ empreinte SHA-256 différente : ne pas utiliser");
}

async function renderPhotos(photos) {
  const box = $("photos");
  $("photos-count").textContent = `${photos.length} photo${photos.length > 1 ? "s" : ""}`;
  if (!photos.length) { box.append(el("p", { class: "empty" }, "Aucune photo jointe.")); return; }
  await Promise.all(photos.map(async (photo, index) => {
    const img = el("img", { alt: `${EXAMS[photo.exam] || "Photo"} ${index + 1}`, "data-photo-id": photo.id,
      width: photo.width, height: photo.height, draggable: "false" });
    const caption = el("figcaption", {},
      el("b", {}, `${EXAMS[photo.exam] || "Photo"} — ${fmtDateTime(photo.captured_at)}`),
      el("span", { class: "muted" }, `${photo.width} × ${photo.height} px`));
    const button = el("button", { type: "button", "aria-label": `Agrandir la photo ${index + 1}` }, img);
    const tile = el("figure", { class: "tile" }, button, caption);
    box.append(tile);
    try {
      const { buffer, ok } = await fetchChecked(photo.url, photo.sha256);
      const record = { ...photo, ok, src: URL.createObjectURL(new Blob([buffer], { type: "image/png" })) };
      page.photos[index] = record;
      img.src = record.src;
      caption.append(checkBadge(ok));
      button.addEventListener("click", () => openViewer(record));
    } catch (error) {
      caption.append(el("span", { class: "check bad" }, `photo non chargée (${error.message})`));
    }
  }));
}

async function renderClips(clips) {
  const list = $("clips");
  $("clips-count").textContent = `${clips.length} enregistrement${clips.length > 1 ? "s" : ""}`;
  if (!clips.length) { list.append(el("li", { class: "empty" }, "Aucun enregistrement joint.")); return; }
  await Promise.all(clips.map(async (clip, index) => {
    const audio = el("audio", { controls: true, preload: "metadata", "data-testid": "expert-clip", "data-clip-id": clip.id });
    const info = el("div", {},
      el("b", {}, clip.label.charAt(0).toUpperCase() + clip.label.slice(1)),
      el("span", { class: "muted small" }, `${fmtSeconds(clip.duration_s)} · ${clip.sample_rate_hz / 1000} kHz · ${fmtTime(clip.recorded_at)}`));
    list.append(el("li", {}, info, audio));
    try {
      const { buffer, ok } = await fetchChecked(clip.url, clip.sha256);
      page.clips[index] = { ...clip, ok };
      audio.src = URL.createObjectURL(new Blob([buffer], { type: "audio/wav" }));
      info.append(el("br"), checkBadge(ok));
    } catch (error) {
      info.append(el("br"), el("span", { class: "check bad" }, `son non chargé (${error.message})`));
    }
  }));
}

function renderMeasurements(rows) {
  const body = $("measures");
  $("measures-count").textContent = `${rows.length} valeur${rows.length > 1 ? "s" : ""}`;
  if (!rows.length) {
    body.append(el("tr", {}, el("td", { colspan: 5, class: "empty" }, "Aucune mesure jointe.")));
    return;
  }
  for (const m of rows) {
    const flags = el("td", {});
    for (const q of m.quality) flags.append(el("span", { class: "flag" }, QUALITY[q] || q));
    body.append(el("tr", {},
      el("td", {}, m.label, m.loinc ? el("span", { class: "muted small" }, ` (LOINC ${m.loinc})`) : null),
      el("td", { class: "value" }, m.value.replace(".", ",")),
      el("td", {}, m.unit),
      el("td", {}, el("time", { datetime: m.time }, `${fmtDateTime(m.time)}`)),
      flags));
  }
}

async function load() {
  let response;
  try {
    response = await fetch(`${api}/material`, { cache: "no-store" });
  } catch {
    fail("Serveur injoignable", "La demande n’a pas pu être chargée. Vérifiez la connexion et rechargez la page.");
    return;
  }
  const data = await readJson(response);
  if (!response.ok) {
    fail(data.message || "Demande indisponible", "Ce lien ne peut plus servir. Demandez à l’équipe soignante de vous envoyer un nouveau lien.");
    return;
  }
  page.material = data;
  renderRequest(data);
  renderMeasurements(data.measurements);
  $("loading").hidden = true;
  $("request-view").hidden = false;
  document.body.dataset.phase = "ready";
  await Promise.all([renderPhotos(data.photos), renderClips(data.clips)]);
  document.body.dataset.loaded = "true";
}

// ---------------------------------------------------------------- viewer
function openViewer(rec) {
  openPhoto({
    src: rec.src, title: EXAMS[rec.exam] || "Photo", alt: "Photo d’examen",
    meta: [`${rec.width} × ${rec.height} px`, fmtDateTime(rec.captured_at),
      rec.ok ? "empreinte SHA-256 vérifiée" : "⚠ empreinte SHA-256 différente"].join(" · "),
  });
}

// ---------------------------------------------------------------- answer
function showFieldError(field, message) {
  const input = $(FIELDS[field]);
  const box = input && $(`${FIELDS[field]}-error`);
  if (!box) { $("answer-error").textContent = message; $("answer-error").hidden = false; return; }
  input.setAttribute("aria-invalid", "true");
  box.textContent = message;
  box.hidden = false;
  input.focus();
}
function clearErrors() {
  for (const id of Object.values(FIELDS)) {
    $(id).removeAttribute("aria-invalid");
    $(`${id}-error`).hidden = true;
  }
  $("answer-error").hidden = true;
}
function checkLocally(form) {
  if (!form.name.trim()) return ["name", "Indiquez votre nom."];
  if (!/^\d{11}$/.test(form.rpps.replace(/\s/g, ""))) return ["rpps", "Le numéro RPPS compte 11 chiffres."];
  if (!form.conclusion.trim()) return ["conclusion", "La conclusion est obligatoire."];
  return null;
}
async function submitAnswer(event) {
  event.preventDefault();
  clearErrors();
  const form = { name: $("answer-name").value, rpps: $("answer-rpps").value,
    conclusion: $("answer-conclusion").value, prescriptions: $("answer-prescriptions").value };
  const problem = checkLocally(form);
  if (problem) { showFieldError(...problem); return; }
  const button = $("answer-submit");
  button.disabled = true;
  button.textContent = "Envoi…";
  try {
    const response = await fetch(`${api}/answer`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(form) });
    const data = await readJson(response);
    if (response.ok) {
      $("answer-form").hidden = true;
      $("done").hidden = false;
      document.body.dataset.phase = "answered";
      return;
    }
    if (response.status === 410 || response.status === 404) {
      fail(data.message || "Lien indisponible", "Ce lien ne peut plus servir. Demandez à l’équipe soignante de vous envoyer un nouveau lien.");
      return;
    }
    showFieldError(data.field || "", data.message || `Erreur ${response.status}`);
  } catch {
    showFieldError("", "Réponse non envoyée : serveur injoignable. Réessayez.");
  } finally {
    button.disabled = false;
    button.textContent = "Valider et envoyer la réponse";
  }
}

setupViewer();
$("answer-form").addEventListener("submit", submitAnswer);
load();
