// Doctor's console: join form, WebRTC call with the station, live data.
// Contract: docs/call-protocol.md. Plain ES module, no dependency.
import { sha256Hex } from "./sha256.js";
import { ScrollingWave, drawSparkline } from "./charts.js";
import { openPhoto, setupViewer } from "./viewer.js";

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("data")) e.setAttribute(k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
};

// ---------------------------------------------------------------- constants
const VITALS = [
  { kind: "spo2", label: "SpO2", unit: "%", band: [94, 100] },
  { kind: "pulse_rate", label: "Pouls", unit: "/min", band: [50, 100] },
  { kind: "body_temperature", label: "Température", unit: "°C", band: [36, 37.8] },
  { kind: "systolic", label: "PA systolique", title: "Tension (pression) artérielle systolique", unit: "mmHg", band: [100, 140] },
  { kind: "diastolic", label: "PA diastolique", title: "Tension (pression) artérielle diastolique", unit: "mmHg", band: [60, 90] },
  { kind: "body_weight", label: "Poids", unit: "kg" },
];
const KIND_LABELS = {
  spo2: "SpO2", pulse_rate: "Pouls", body_temperature: "Température", systolic: "Tension systolique",
  diastolic: "Tension diastolique", body_weight: "Poids", mean_arterial_pressure: "Pression artérielle moyenne",
  bmi: "IMC", height: "Taille", perfusion_index: "Indice de perfusion",
};
const UNITS = { Cel: "°C", "[degF]": "°F", "mm[Hg]": "mmHg", "kg/m2": "kg/m²", "[lb_av]": "lb", "[in_i]": "in",
  "1": "", "/min": "/min", "{beats}/min": "/min", "{beat}/min": "/min", "%": "%", kg: "kg", cm: "cm" };
const QUALITY = {
  finger_out: "doigt retiré", searching: "recherche du pouls", implausible: "valeur invraisemblable",
  low_perfusion: "perfusion faible", artifact: "artefact", sensor_fault: "défaut du capteur",
  motion: "mouvement", cuff_loose: "brassard mal serré", irregular_pulse: "pouls irrégulier",
  improper_position: "mauvaise position", not_a_number: "pas de valeur", out_of_range: "hors plage de mesure",
  clock_not_set: "horloge de l’appareil non réglée", early_estimate: "estimation provisoire", validated: "validée",
};
const QUALITY_TONE = { validated: "ok", early_estimate: "info", clock_not_set: "info" };
const CALL_STATES = { ringing: "En attente", connected: "En communication", reconnecting: "Reconnexion…", ended: "Terminée" };
const EXAMS = { otoscope: "Otoscope", dermatoscope: "Dermatoscope" };
const DOCTOR_CODES = { teleconsultation: ["TCG", "TC"], "tele-expertise": ["TE2", "RQD"] };
const NURSE_CODES = ["TLS", "TLL", "TLD"];
const MEDIA_NAMES = ["room", "exam", "voice", "stethoscope"];

// ---------------------------------------------------------------- state
function tokenFromLocation() {
  const parts = location.pathname.split("/").filter(Boolean);
  const q = new URLSearchParams(location.search).get("token");
  if (q) return q;
  const i = parts.indexOf("join");
  return decodeURIComponent(i >= 0 && parts[i + 1] ? parts[i + 1] : parts[parts.length - 1] || "");
}

const state = {
  phase: "join",
  token: tokenFromLocation(),
  ticket: null,
  relayServers: [],  // the TURN relay with this socket's time-limited credentials
  session: null,
  doctor: null,
  callState: "ringing",
  audioOnly: false,
  seenVitals: new Set(),  // ids of the measurements received (the station may replay some)
  lastVitalId: 0,
  micMuted: false,
  micError: null,
  connectedAt: null,
  endedReason: null,
  mainVideo: "room",
  exam: null,
  context: null,
  vitals: {},
  history: {},
  devices: {},
  snapshots: [],
  report: { revision: 0, fields: {}, lastAuthor: null, lastTime: null, pending: false },
  channels: {},
  errors: [],
};
const messages = []; // {dir, channel, msg, at}
const sent = [];     // outgoing data-channel and signaling messages

function log(dir, channel, msg) {
  messages.push({ dir, channel, msg, at: Date.now() });
  if (messages.length > 300) messages.shift();
  if (dir === "out") { sent.push({ channel, msg }); if (sent.length > 300) sent.shift(); }
}

let ws = null;
let wsRetries = 0;
let pc = null;
let micStream = null;
let micPromise = null;
let configPromise = null;
let audioCtx = null;
let stethAnalyser = null;
let lastPhonoMsg = 0;
let plethWave, phonoWave;

// ---------------------------------------------------------------- formatting
function parseTime(t) {
  if (t == null || t === "") return null;
  if (typeof t === "number") return new Date(t > 1e12 ? t : t * 1000);
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}
const sameDay = (a, b) => a.toDateString() === b.toDateString();
function fmtTime(t, { seconds = false } = {}) {
  const d = parseTime(t);
  if (!d) return "";
  const hm = d.toLocaleTimeString("fr-FR", { hour: "2-digit", minute: "2-digit", second: seconds ? "2-digit" : undefined });
  return sameDay(d, new Date()) ? hm : `${d.toLocaleDateString("fr-FR")} ${hm}`;
}
function fmtDate(t) {
  const d = parseTime(t);
  return d ? d.toLocaleDateString("fr-FR", { day: "2-digit", month: "2-digit", year: "numeric" }) : "";
}
function fmtShortDate(t) {
  const d = parseTime(t);
  if (!d) return "";
  if (sameDay(d, new Date())) return "aujourd’hui";
  return d.toLocaleDateString("fr-FR", d.getFullYear() === new Date().getFullYear() ? { day: "2-digit", month: "2-digit" } : undefined);
}
function fmtValue(value, decimals) {
  if (value == null || !Number.isFinite(Number(value))) return "—";
  const v = Number(value);
  const d = Number.isInteger(decimals) ? decimals : (Number.isInteger(v) ? 0 : 1);
  return v.toLocaleString("fr-FR", { minimumFractionDigits: d, maximumFractionDigits: d, useGrouping: false });
}
const unitOf = (u) => (u in UNITS ? UNITS[u] : u || "");
function fmtIns(ins) {
  const s = String(ins).replace(/\s/g, "");
  return s.length === 15 ? `${s[0]} ${s.slice(1, 3)} ${s.slice(3, 5)} ${s.slice(5, 7)} ${s.slice(7, 10)} ${s.slice(10, 13)} ${s.slice(13)}` : s;
}
function fmtSex(sex) {
  const s = String(sex || "").toLowerCase();
  if (["f", "female", "femme", "féminin"].includes(s)) return "Femme";
  if (["m", "male", "homme", "masculin"].includes(s)) return "Homme";
  return "Sexe non précisé";
}

// ---------------------------------------------------------------- ui helpers
let toastTimer = 0;
function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 4000);
}
function banner(text, kind = "warn", action = null) {
  const b = $("banner");
  if (!text) { b.hidden = true; b.textContent = ""; return; }
  b.dataset.kind = kind;
  b.textContent = text;
  if (action) {
    // A class, not a style attribute: the CSP allows no inline style.
    const btn = el("button", { type: "button", class: "btn btn-small banner-action" }, action.label);
    btn.addEventListener("click", action.run);
    b.append(btn);
  }
  b.hidden = false;
}

// ---------------------------------------------------------------- join
function setFieldError(field, message) {
  const input = $(`join-${field}`);
  const err = $(`join-${field}-error`);
  if (!input || !err) return false;
  input.setAttribute("aria-invalid", "true");
  err.textContent = message;
  err.hidden = false;
  input.focus();
  return true;
}
function clearJoinErrors() {
  for (const f of ["name", "rpps", "specialty"]) {
    $(`join-${f}`).removeAttribute("aria-invalid");
    $(`join-${f}-error`).hidden = true;
  }
  $("join-error").hidden = true;
}
function formError(message) {
  $("join-error").textContent = message;
  $("join-error").hidden = false;
}

async function submitJoin(ev) {
  ev.preventDefault();
  clearJoinErrors();
  const name = $("join-name").value.trim();
  const rpps = $("join-rpps").value.replace(/\s+/g, "");
  const specialty = $("join-specialty").value;
  if (!name) return setFieldError("name", "Indiquez votre nom et votre prénom.");
  if (!/^\d{11}$/.test(rpps)) return setFieldError("rpps", "Le numéro RPPS comporte exactement 11 chiffres.");
  const button = $("join-submit");
  button.disabled = true;
  button.textContent = "Connexion…";
  try {
    const res = await fetch(`/api/join/${encodeURIComponent(state.token)}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name, rpps, specialty }),
      credentials: "same-origin",
    });
    let body = {};
    try { body = await res.json(); } catch { /* not JSON */ }
    if (res.status === 400) {
      if (!setFieldError(body.field, body.message || "Saisie invalide.")) formError(body.message || "Saisie invalide.");
      return;
    }
    if (res.status === 410 || res.status === 404) {
      formError(body.message || (res.status === 410
        ? "Ce lien n’est plus valable (déjà utilisé ou expiré). Demandez une nouvelle invitation à l’EHPAD."
        : "Lien inconnu ou révoqué. Demandez une nouvelle invitation à l’EHPAD."));
      return;
    }
    if (!res.ok || !body.ticket) {
      formError(body.message || `Le serveur a refusé la connexion (erreur ${res.status}). Réessayez.`);
      return;
    }
    state.ticket = body.ticket;
    state.session = body.session;
    state.doctor = { name, rpps, specialty };
    micPromise = getMic();
    enterCall();
    connectSignaling();
  } catch (err) {
    formError("Serveur injoignable. Vérifiez votre connexion et réessayez.");
  } finally {
    button.disabled = false;
    button.textContent = "Rejoindre l’appel";
  }
}

// ---------------------------------------------------------------- OpenID Connect sign-in
// When the station offers (or requires) Pro Santé Connect, show the button; back
// from the provider, prefill the form with the verified doctor and lock the RPPS.
async function setupOidc() {
  const params = new URLSearchParams(location.search);
  const error = params.get("oidc_error");
  if (error) history.replaceState(null, "", location.pathname);  // a reload starts clean
  let body;
  try {
    // /api/config says whether this station offers the sign-in at all.
    const config = await fetch("/api/config", { credentials: "same-origin" });
    if (!config.ok || !(await config.json()).oidc) return;
    const query = error ? `?error=${encodeURIComponent(error)}` : "";
    const res = await fetch(`/api/join/${encodeURIComponent(state.token)}/identity${query}`,
      { credentials: "same-origin" });
    if (!res.ok) return;
    body = await res.json();
  } catch { return; }
  if (!body || !body.oidc) return;
  const label = body.oidc.label || "Pro Santé Connect";
  $("oidc-box").hidden = false;
  $("oidc-login").href = body.oidc.login_url;
  $("oidc-login").textContent = `Se connecter avec ${label}`;
  if (body.error) {
    $("oidc-error").textContent = body.error.message;
    $("oidc-error").hidden = false;
  }
  const hint = $("oidc-hint");
  if (body.verified) {
    const v = body.verified;
    state.oidcVerified = v;
    $("oidc-login").hidden = true;
    $("oidc-verified").textContent = `Identité vérifiée par ${label} : ${v.name || "—"}, RPPS ${v.rpps}.`;
    $("oidc-verified").hidden = false;
    if (v.name) $("join-name").value = v.name;
    const rpps = $("join-rpps");
    rpps.value = v.rpps;
    rpps.readOnly = true;
    rpps.setAttribute("aria-readonly", "true");
    rpps.title = `Numéro RPPS transmis par ${label}`;
  } else if (body.oidc.required) {
    hint.textContent = `Cette invitation exige une connexion avec ${label} avant de rejoindre l’appel.`;
    hint.hidden = false;
    $("join-form").hidden = true;
  } else {
    hint.textContent = "ou identifiez-vous ci-dessous avec votre numéro RPPS";
    hint.hidden = false;
  }
}

// ---------------------------------------------------------------- call view
function enterCall() {
  if (state.phase === "call") return;
  state.phase = "call";
  document.body.dataset.phase = "call";
  $("join-view").hidden = true;
  $("call-view").hidden = false;
  document.title = "Téléconsultation en cours";
  applyDefaultBilling();
  setCallState(state.callState);
  requestAnimationFrame(frame);
}

function setCallState(s, { audioOnly } = {}) {
  if (!(s in CALL_STATES)) return;
  if (state.callState === "ended" && s !== "ended") return;
  state.callState = s;
  if (s === "connected" && !state.connectedAt) state.connectedAt = Date.now();
  const pill = $("call-state");
  pill.dataset.state = s;
  $("call-state-text").textContent = CALL_STATES[s];
  if (typeof audioOnly === "boolean") setAudioOnlyUi(audioOnly);
  if (s === "reconnecting") banner("Connexion interrompue — reconnexion en cours. Le son reprendra automatiquement.");
  else if (s === "connected") banner(null);
  if (s === "ended") showEnded();
}

function showEnded() {
  const why = state.endedReason ? ` (${state.endedReason})` : "";
  banner(`Téléconsultation terminée${why}. Vous pouvez fermer cet onglet.`, "ended");
  for (const id of ["mic-toggle", "audio-only", "call-end"]) $(id).disabled = true;
  document.title = "Téléconsultation terminée";
}

function swapVideos() {
  state.mainVideo = state.mainVideo === "room" ? "exam" : "room";
  layoutVideos();
}
function layoutVideos() {
  for (const name of ["room", "exam"]) {
    const slot = $(`slot-${name}`);
    const main = state.mainVideo === name;
    slot.classList.toggle("is-main", main);
    slot.classList.toggle("is-inset", !main);
    if (main) { slot.removeAttribute("tabindex"); slot.removeAttribute("role"); slot.removeAttribute("aria-label"); }
    else {
      slot.tabIndex = 0;
      slot.setAttribute("role", "button");
      slot.setAttribute("aria-label", `Afficher ${name === "room" ? "la caméra de la chambre" : "la caméra d’examen"} en grand`);
    }
  }
  $("stage").dataset.main = state.mainVideo;
}

const AUDIO_ONLY_CAUSES = {
  nurse: "demandé par l’infirmier·e",
  link: "réseau trop faible, la station a suspendu la vidéo",
  doctor: "à votre demande",
};

function setAudioOnlyUi(on, cause) {
  state.audioOnly = !!on;
  $("audio-only").setAttribute("aria-pressed", String(state.audioOnly));
  $("audio-only-cover").hidden = !state.audioOnly;
  const detail = $("audio-only-detail");
  if (cause && detail) {
    detail.textContent = cause === "link"
      ? "Réseau trop faible : la station a suspendu la vidéo pour préserver le son, le stéthoscope et les mesures. Elle la rétablira d’elle-même quand le réseau le permettra."
      : "La vidéo est suspendue pour préserver le son.";
  }
}

function setExamUi(exam) {
  state.exam = exam;
  $("exam-caption").textContent = EXAMS[exam] ? `Caméra d’examen — ${EXAMS[exam]}` : "Caméra d’examen";
  for (const b of document.querySelectorAll(".seg-btn")) b.setAttribute("aria-pressed", String(b.dataset.exam === exam));
}

// ---------------------------------------------------------------- signaling
// The signaling socket crosses the same link as the call. A cut leaves it
// half-open: TCP would take minutes to notice, and its retransmissions back off
// to tens of seconds, so the call would wait long after the link came back.
// So the console pings every 2 s (the server answers "pong") and, with nothing
// heard for 6 s, drops the socket for a new one; a new socket that does not
// open within 5 s is dropped too. Retries come every 1-3 s for 10 minutes.
const WS_PING_MS = 2000;
const WS_SILENT_MS = 6000;
const WS_OPEN_MS = 5000;
const WS_GIVE_UP_MS = 10 * 60 * 1000;
let wsHeard = 0;
let wsLostSince = 0;
let wsKeepalive = null;

function connectSignaling() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${proto}//${location.host}/ws/doctor?ticket=${encodeURIComponent(state.ticket)}`);
  ws = socket;
  const openTimer = setTimeout(() => { if (socket.readyState === WebSocket.CONNECTING) dropSocket(socket); }, WS_OPEN_MS);
  socket.onopen = () => {
    clearTimeout(openTimer);
    wsRetries = 0;
    wsLostSince = 0;
    wsHeard = Date.now();
  };
  socket.onmessage = (e) => {
    wsHeard = Date.now();
    let msg;
    try { msg = JSON.parse(e.data); } catch { return; }
    if (msg && msg.type === "pong") return;
    handleSignal(msg);
  };
  socket.onclose = () => { clearTimeout(openTimer); if (ws === socket) socketLost(); };
  if (!wsKeepalive) wsKeepalive = setInterval(keepSignalingAlive, WS_PING_MS);
}

function keepSignalingAlive() {
  if (state.callState === "ended") { clearInterval(wsKeepalive); wsKeepalive = null; return; }
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  if (Date.now() - wsHeard > WS_SILENT_MS) { dropSocket(ws); return; }
  ws.send(JSON.stringify({ type: "ping" }));
}

// Forget a socket that is dead or will not open (its late events are ignored)
// and start another.
function dropSocket(socket) {
  if (ws !== socket) return;
  ws = null;
  try { socket.close(); } catch { /* already closing */ }
  socketLost();
}

function socketLost() {
  if (state.callState === "ended") return;
  ws = null;
  if (!wsLostSince) wsLostSince = Date.now();
  if (Date.now() - wsLostSince > WS_GIVE_UP_MS) {
    banner("Connexion au serveur perdue. Rechargez la page ou demandez une nouvelle invitation.", "error");
    return;
  }
  wsRetries++;
  // During a call the media decide what the doctor is told (their own path may be fine).
  if (state.callState !== "connected" && state.callState !== "reconnecting") {
    banner("Connexion au serveur perdue — nouvelle tentative…");
  }
  setTimeout(() => { if (state.callState !== "ended" && !ws) connectSignaling(); }, Math.min(3000, 1000 * wsRetries));
}

function sendSignal(msg) {
  log("out", "ws", msg);
  if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(msg)); return true; }
  return false;
}

let offerChain = Promise.resolve();
function handleSignal(msg) {
  log("in", "ws", msg);
  switch (msg && msg.type) {
    case "offer":
      offerChain = offerChain.then(() => acceptOffer(msg.sdp)).catch((err) => {
        state.errors.push(String(err));
        banner("Impossible d’établir la communication avec la station : " + (err && err.message ? err.message : err), "error");
      });
      return offerChain;
    case "ticket":
      // The server's ticket for coming back if this socket drops (one use each).
      if (msg.ticket) state.ticket = msg.ticket;
      // With a TURN relay configured, fresh credentials come with each socket.
      if (Array.isArray(msg.iceServers)) state.relayServers = msg.iceServers;
      break;
    case "peer-joined":
      if (msg.role === "station") toast("La station de l’EHPAD est connectée.");
      break;
    case "peer-left":
      if (msg.role === "station" && state.callState !== "ended") setCallState(state.callState === "ringing" ? "ringing" : "reconnecting");
      break;
    case "bye":
      endCall(msg.reason || "fin de l’appel par l’EHPAD", false);
      break;
    case "error":
      console.warn("signaling error", msg.code, msg.message);
      break;
    default:
      break;
  }
  return undefined;
}

// ---------------------------------------------------------------- WebRTC
function loadConfig() {
  if (!configPromise) {
    configPromise = fetch("/api/config", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : {}))
      .catch(() => ({}))
      .then((c) => ({ iceServers: Array.isArray(c && c.iceServers) ? c.iceServers : [] }));
  }
  return configPromise;
}

async function getMic() {
  if (micStream) return micStream;
  try {
    micStream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      video: false,
    });
    for (const t of micStream.getAudioTracks()) t.enabled = !state.micMuted;
    return micStream;
  } catch (err) {
    state.micError = String(err && err.name || err);
    toast("Microphone indisponible : l’EHPAD ne vous entendra pas. Vérifiez l’autorisation du navigateur.");
    return null;
  }
}

function waitIceComplete(peer, timeoutMs = 8000) {
  if (peer.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { peer.removeEventListener("icegatheringstatechange", check); clearTimeout(timer); resolve(); };
    const check = () => { if (peer.iceGatheringState === "complete") done(); };
    const timer = setTimeout(done, timeoutMs);
    peer.addEventListener("icegatheringstatechange", check);
  });
}

function closePc() {
  if (!pc) return;
  const old = pc;
  pc = null;
  try { old.close(); } catch { /* already closed */ }
  state.channels = {};
}

function mediaName(ev, peer) {
  for (const s of ev.streams || []) if (MEDIA_NAMES.includes(s.id)) return s.id;
  const same = peer.getTransceivers().filter((t) => t.receiver.track && t.receiver.track.kind === ev.track.kind);
  const idx = same.indexOf(ev.transceiver);
  if (ev.track.kind === "video") return idx === 1 ? "exam" : "room";
  return idx === 1 ? "stethoscope" : "voice";
}

async function acceptOffer(sdp) {
  const reconnect = !!pc;
  closePc();
  if (reconnect && state.callState !== "ringing") setCallState("reconnecting");
  const { iceServers } = await loadConfig();
  const peer = new RTCPeerConnection({ iceServers: [...iceServers, ...state.relayServers] });
  pc = peer;
  const names = new Map();
  peer.ontrack = (ev) => {
    const name = mediaName(ev, peer);
    names.set(ev.transceiver, name);
    attachTrack(name, ev.track, ev.streams && ev.streams[0]);
  };
  peer.ondatachannel = (ev) => setupChannel(ev.channel);
  peer.onconnectionstatechange = () => {
    if (pc !== peer) return;
    const s = peer.connectionState;
    if (s === "connected") setCallState("connected");
    else if ((s === "disconnected" || s === "failed") && state.callState !== "ended") setCallState("reconnecting");
  };
  await peer.setRemoteDescription({ type: "offer", sdp });
  const mic = await (micPromise || (micPromise = getMic()));
  if (pc !== peer) return;
  const audios = peer.getTransceivers().filter((t) => t.receiver.track && t.receiver.track.kind === "audio");
  const voice = audios.find((t) => names.get(t) === "voice") || audios[0];
  for (const t of peer.getTransceivers()) {
    if (t === voice && mic) {
      const track = mic.getAudioTracks()[0];
      await t.sender.replaceTrack(track);
      try { t.sender.setStreams && t.sender.setStreams(mic); } catch { /* older browsers */ }
      t.direction = "sendrecv";
    } else if (t.direction !== "inactive") {
      t.direction = "recvonly";
    }
  }
  const answer = await peer.createAnswer();
  await peer.setLocalDescription(answer);
  await waitIceComplete(peer);
  if (pc !== peer) return;
  sendSignal({ type: "answer", sdp: peer.localDescription.sdp });
}

function playMedia(media) {
  const p = media.play && media.play();
  if (p && p.catch) p.catch(() => banner("Le navigateur a bloqué le son.", "warn", {
    label: "Activer le son",
    run: () => { for (const m of document.querySelectorAll("audio, video")) if (m.srcObject) m.play().catch(() => {}); banner(null); },
  }));
}

function attachTrack(name, track, stream) {
  const ms = stream && stream.getTracks().includes(track) ? stream : new MediaStream([track]);
  if (name === "room" || name === "exam") {
    const video = $(`video-${name}`);
    video.srcObject = ms;
    const slot = $(`slot-${name}`);
    const show = () => slot.classList.add("has-video");
    const hide = () => slot.classList.remove("has-video");
    track.addEventListener("unmute", show);
    track.addEventListener("mute", hide);
    track.addEventListener("ended", hide);
    if (!track.muted) show();
    playMedia(video);
  } else if (name === "voice") {
    $("audio-voice").srcObject = ms;
    playMedia($("audio-voice"));
  } else if (name === "stethoscope") {
    const audio = $("audio-stethoscope");
    audio.srcObject = ms;
    audio.volume = Number($("steth-volume").value);
    playMedia(audio);
    tapStethoscope(ms);
  }
}

// Analyser tap for drawing only: never connected to the destination, so the
// <audio> element's playback stays untouched.
function tapStethoscope(ms) {
  try {
    audioCtx = audioCtx || new AudioContext();
    const src = audioCtx.createMediaStreamSource(ms);
    stethAnalyser = audioCtx.createAnalyser();
    stethAnalyser.fftSize = 1024;
    src.connect(stethAnalyser);
    if (audioCtx.state === "suspended") audioCtx.resume().catch(() => {});
  } catch (err) {
    stethAnalyser = null;
  }
}

// ---------------------------------------------------------------- data channels
function setupChannel(ch) {
  state.channels[ch.label] = ch;
  if (ch.label === "snapshots") ch.binaryType = "arraybuffer";
  ch.onmessage = (e) => handleDataMessage(ch.label, e.data);
  ch.onopen = () => {
    if (ch.label === "report" && state.report.pending) sendReport();
    if (ch.label === "control") {
      if (state.audioOnly) sendData("control", { type: "audio-only", on: true });
      startHeartbeat(ch);
    }
  };
  // A channel may already be open when it is announced: "open" would never fire.
  if (ch.readyState === "open") ch.onopen();
}

// The station declares the call "reconnecting" after 3 s without our heartbeat
// (ICE alone takes ~30 s to notice a dead peer). One per second, not logged.
function startHeartbeat(ch) {
  let seq = 0;
  const timer = setInterval(() => {
    if (ch.readyState !== "open") { clearInterval(timer); return; }
    ch.send(JSON.stringify({ type: "heartbeat", seq: ++seq, vitals: state.lastVitalId }));
  }, 1000);
}

function sendData(label, msg) {
  log("out", label, msg);
  const ch = state.channels[label];
  if (ch && ch.readyState === "open") { ch.send(JSON.stringify(msg)); return true; }
  return false;
}

function handleDataMessage(label, data) {
  if (label === "snapshots") return handleSnapshot(data);
  if (typeof data !== "string") return undefined;
  let msg;
  try { msg = JSON.parse(data); } catch { return undefined; }
  switch (label) {
    case "vitals": return handleVitals(msg);
    case "waveforms": return handleWaveform(msg);
    case "report": return handleReport(msg);
    case "control": return handleControl(msg);
    default: return undefined;
  }
}

// ---------------------------------------------------------------- vitals
function handleVitals(msg) {
  log("in", "vitals", msg);
  switch (msg && msg.type) {
    case "context": renderContext(msg); break;
    case "measurement": {
      // Numbered measurements are acknowledged in our heartbeats; after a cut the
      // station replays what we missed, possibly with some we already have.
      if (Number.isInteger(msg.id)) {
        if (state.seenVitals.has(msg.id)) break;
        state.seenVitals.add(msg.id);
        state.lastVitalId = Math.max(state.lastVitalId, msg.id);
      }
      updateVital(msg);
      break;
    }
    case "device": updateDevice(msg.url, { state: msg.state, detail: msg.detail }); break;
    case "battery": updateDevice(msg.url, { battery: msg.percent }); break;
    case "call-state": setCallState(msg.state, { audioOnly: msg.audio_only }); break;
    default: break;
  }
}

function renderContext(ctx) {
  state.context = ctx;
  const r = ctx.resident || {};
  $("resident-name").textContent = r.name || "Résident";
  $("resident-initials").textContent = (r.name || "?").replace(/\([^)]*\)/g, " ").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
  const meta = $("resident-meta");
  meta.replaceChildren();
  if (r.age != null) meta.append(el("span", {}, `${r.age} ans`));
  meta.append(el("span", {}, fmtSex(r.sex)));
  if (r.ins) meta.append(el("span", { class: "ins", title: "Identité nationale de santé (identité qualifiée)", "data-testid": "resident-ins" }, `INS ${fmtIns(r.ins)}`));
  const nurse = typeof ctx.nurse === "object" && ctx.nurse ? ctx.nurse.name : ctx.nurse;
  const station = typeof ctx.station === "object" && ctx.station ? ctx.station.name : ctx.station;
  const cm = $("context-meta");
  cm.replaceChildren();
  if (nurse) cm.append(el("div", {}, "Infirmier·e : ", el("strong", {}, nurse)));
  if (station) cm.append(el("div", {}, "Station : ", el("strong", {}, station)));
  state.history = {};
  for (const h of ctx.history || []) addHistory(h.kind, h.value, h.unit, h.time);
  renderTrends();
  renderReports(ctx.reports || []);
}

function addHistory(kind, value, unit, time) {
  const d = parseTime(time);
  if (!d || value == null || !Number.isFinite(Number(value))) return;
  (state.history[kind] = state.history[kind] || []).push({ t: d.getTime(), v: Number(value), unit });
  state.history[kind].sort((a, b) => a.t - b.t);
}

function renderTrends() {
  const box = $("trends");
  box.replaceChildren();
  const kinds = [...VITALS.map((v) => v.kind), ...Object.keys(state.history)].filter((k, i, a) => a.indexOf(k) === i && state.history[k] && state.history[k].length);
  if (!kinds.length) { box.append(el("p", { class: "empty" }, "Aucune mesure antérieure.")); return; }
  for (const kind of kinds) {
    const pts = state.history[kind];
    const last = pts[pts.length - 1];
    const canvas = el("canvas", { role: "img", "aria-label": `Évolution : ${KIND_LABELS[kind] || kind}, ${pts.length} mesures` });
    box.append(el("div", { class: "trend", "data-kind": kind },
      el("div", { class: "trend-label" }, KIND_LABELS[kind] || kind),
      canvas,
      el("div", { class: "trend-last" }, `${fmtValue(last.v, Number.isInteger(last.v) ? 0 : 1)} ${unitOf(last.unit)}`,
        el("small", {}, fmtShortDate(last.t)))));
    const band = (VITALS.find((v) => v.kind === kind) || {}).band;
    requestAnimationFrame(() => drawSparkline(canvas, pts, { band }));
  }
}

function renderReports(reports) {
  const ul = $("reports");
  ul.replaceChildren();
  if (!reports.length) { ul.append(el("li", { class: "empty" }, "Aucun compte rendu antérieur.")); return; }
  const sorted = [...reports].sort((a, b) => (parseTime(b.time) || 0) - (parseTime(a.time) || 0));
  for (const r of sorted) ul.append(el("li", {}, el("time", { datetime: String(r.time || "") }, fmtDate(r.time)), el("span", {}, r.title || "Compte rendu")));
}

function buildVitalTiles() {
  const box = $("vitals");
  for (const v of VITALS) {
    box.append(el("article", { class: "vital", "data-testid": `vital-${v.kind}`, "data-kind": v.kind, "data-value": "", "data-empty": "true", "aria-live": "polite" },
      el("div", { class: "vital-label", title: v.title || null }, v.label),
      el("div", { class: "vital-reading" }, el("span", { class: "vital-value" }, "—"), el("span", { class: "vital-unit" }, v.unit)),
      el("div", { class: "flags" }),
      el("div", { class: "vital-time" }, "En attente de mesure")));
  }
}

function updateVital(m) {
  state.vitals[m.kind] = m;
  if (m.value != null) addHistory(m.kind, m.value, m.unit, m.time);
  const tile = document.querySelector(`.vital[data-kind="${CSS.escape(String(m.kind))}"]`);
  if (!tile) { if (m.value != null) renderTrends(); return; }
  const has = m.value != null && Number.isFinite(Number(m.value));
  tile.dataset.value = has ? String(m.value) : "";
  tile.dataset.empty = String(!has);
  tile.dataset.time = m.time || "";
  tile.querySelector(".vital-value").textContent = has ? fmtValue(m.value, m.decimals) : "—";
  if (m.unit) tile.querySelector(".vital-unit").textContent = unitOf(m.unit);
  const flags = tile.querySelector(".flags");
  flags.replaceChildren();
  const quality = Array.isArray(m.quality) ? m.quality : [];
  for (const q of quality) flags.append(el("span", { class: `flag ${QUALITY_TONE[q] || ""}`, "data-quality": q }, QUALITY[q] || q));
  if (!has && !quality.length) flags.append(el("span", { class: "flag" }, "pas de valeur"));
  tile.dataset.flagged = String(quality.some((q) => !QUALITY_TONE[q]) || !has);
  const when = fmtTime(m.time);
  tile.querySelector(".vital-time").textContent = when ? `Mesuré à ${when}` : "Mesure reçue";
  tile.querySelector(".vital-time").title = fmtTime(m.time, { seconds: true });
  if (m.device) tile.title = `Appareil : ${m.device}`;
  tile.classList.remove("fresh");
  void tile.offsetWidth;
  tile.classList.add("fresh");
  if (has) renderTrends();
}

const DEVICE_STATES = { connected: "connecté", connecting: "connexion…", disconnected: "déconnecté", error: "erreur", measuring: "mesure en cours" };
function updateDevice(url, patch) {
  if (!url) return;
  const d = (state.devices[url] = { ...(state.devices[url] || {}), ...patch });
  const ul = $("devices");
  let li = ul.querySelector(`li[data-url="${CSS.escape(url)}"]`);
  if (!li) { li = el("li", { "data-url": url }); ul.append(li); }
  li.dataset.state = d.state || "";
  const name = d.detail || url.replace(/^[a-z]+:\/\//, "");
  const parts = [name];
  if (d.state) parts.push(DEVICE_STATES[d.state] || d.state);
  if (d.battery != null) parts.push(`batterie ${Math.round(d.battery)} %`);
  li.textContent = parts.join(" · ");
  const n = Object.values(state.devices).filter((x) => x.state === "connected").length;
  $("devices-summary").textContent = `${n} appareil${n > 1 ? "s" : ""} connecté${n > 1 ? "s" : ""}`;
}

// ---------------------------------------------------------------- waveforms
function handleWaveform(msg) {
  if (!msg || !Array.isArray(msg.samples)) return;
  if (messages.length && messages[messages.length - 1].channel === "waveforms") messages[messages.length - 1] = { dir: "in", channel: "waveforms", msg, at: Date.now() };
  else log("in", "waveforms", msg);
  if (msg.type === "pleth") plethWave.push(msg.samples, msg.rate);
  else if (msg.type === "phono") { phonoWave.push(msg.samples, msg.rate); lastPhonoMsg = performance.now(); }
}

const analyserBuf = new Float32Array(1024);
let lastTimerText = "";
function frame() {
  if (stethAnalyser && performance.now() - lastPhonoMsg > 1000) {
    stethAnalyser.getFloatTimeDomainData(analyserBuf);
    let sum = 0;
    for (let i = 0; i < analyserBuf.length; i++) sum += analyserBuf[i] * analyserBuf[i];
    if (phonoWave.rate !== 60) phonoWave.setRate(60);
    phonoWave.push([Math.sqrt(sum / analyserBuf.length)]);
  }
  plethWave.draw();
  phonoWave.draw();
  let t = "";
  if (state.connectedAt && state.callState !== "ended") {
    const s = Math.floor((Date.now() - state.connectedAt) / 1000);
    t = `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
  }
  if (t !== lastTimerText) { $("call-timer").textContent = t; lastTimerText = t; }
  if (state.callState !== "ended") requestAnimationFrame(frame);
}

// ---------------------------------------------------------------- snapshots
let currentSnap = null;
function handleSnapshot(data) {
  if (typeof data === "string") {
    let msg;
    try { msg = JSON.parse(data); } catch { return Promise.resolve(); }
    return handleSnapshotMessage(msg);
  }
  if (data instanceof Blob) return data.arrayBuffer().then((b) => handleSnapshot(b));
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (!currentSnap) return Promise.resolve();
  currentSnap.chunks.push(bytes.slice());
  currentSnap.received += bytes.byteLength;
  // The station paces a still on these acknowledgements (station/call/pacing.py):
  // without them it would fill the link's buffer and freeze the live video.
  const ch = state.channels.snapshots;
  if (ch && ch.readyState === "open") {
    ch.send(JSON.stringify({ type: "snapshot-ack", id: currentSnap.meta.id, received: currentSnap.received }));
  }
  const pct = currentSnap.meta.size ? Math.min(100, Math.round((100 * currentSnap.received) / currentSnap.meta.size)) : null;
  const ph = currentSnap.tile && currentSnap.tile.querySelector(".ph");
  if (ph) ph.textContent = pct == null ? "Réception…" : `Réception… ${pct} %`;
  return Promise.resolve();
}

function handleSnapshotMessage(msg) {
  log("in", "snapshots", msg);
  if (msg.type === "snapshot-begin") {
    const tile = el("button", { type: "button", class: "thumb loading", "data-snapshot": msg.id, disabled: "" },
      el("div", { class: "ph" }, "Réception…"),
      el("div", { class: "cap" }, el("b", {}, EXAMS[msg.exam] || msg.exam || "Photo"), el("span", {}, fmtTime(Date.now()))));
    $("gallery-empty").hidden = true;
    $("snapshot-gallery").prepend(tile);
    currentSnap = { meta: msg, chunks: [], received: 0, tile };
    return Promise.resolve();
  }
  if (msg.type === "snapshot-end") {
    const snap = currentSnap && currentSnap.meta.id === msg.id ? currentSnap : null;
    currentSnap = null;
    if (snap) return finishSnapshot(snap);
  }
  return Promise.resolve();
}

function mimeOf(name) {
  const n = String(name || "").toLowerCase();
  if (n.endsWith(".png")) return "image/png";
  if (n.endsWith(".webp")) return "image/webp";
  return "image/jpeg";
}

async function finishSnapshot(snap) {
  const total = snap.received;
  const buf = new Uint8Array(total);
  let off = 0;
  for (const c of snap.chunks) { buf.set(c, off); off += c.byteLength; }
  const actual = await sha256Hex(buf.buffer);
  const m = snap.meta;
  const ok = actual === String(m.sha256 || "").toLowerCase() && (m.size == null || m.size === total);
  const url = URL.createObjectURL(new Blob([buf], { type: mimeOf(m.name) }));
  const record = { id: m.id, name: m.name, exam: m.exam, width: m.width, height: m.height, size: total,
    sha256: m.sha256, actual, ok, url, receivedAt: Date.now() };
  state.snapshots.push(record);
  const tile = snap.tile;
  tile.classList.remove("loading");
  tile.removeAttribute("disabled");
  tile.dataset.integrity = ok ? "ok" : "mismatch";
  const label = `${EXAMS[m.exam] || m.exam || "Photo"}${m.width && m.height ? `, ${m.width} × ${m.height}` : ""}`;
  tile.setAttribute("aria-label", `Ouvrir la photo : ${label}${ok ? "" : " — intégrité non vérifiée"}`);
  const img = el("img", { src: url, alt: label, loading: "lazy" });
  tile.querySelector(".ph").replaceWith(img);
  if (!ok) tile.prepend(el("span", { class: "mismatch", "data-testid": "snapshot-mismatch", title: `Attendu ${m.sha256}\nReçu ${actual}` },
    "⚠ Intégrité non vérifiée"));
  tile.addEventListener("click", () => openViewer(record));
  const n = state.snapshots.length;
  $("gallery-count").textContent = `${n} photo${n > 1 ? "s" : ""}`;
  if (!ok) toast("Une photo reçue ne correspond pas à son empreinte : ne pas l’utiliser pour le diagnostic.");
  return record;
}

// ---------------------------------------------------------------- viewer
function openViewer(rec) {
  openPhoto({
    src: rec.url, title: EXAMS[rec.exam] || "Photo", alt: rec.name || "Photo d’examen",
    meta: [rec.width && rec.height ? `${rec.width} × ${rec.height} px` : "", fmtTime(rec.receivedAt, { seconds: true }),
      rec.ok ? "empreinte SHA-256 vérifiée" : "⚠ empreinte SHA-256 différente"].filter(Boolean).join(" · "),
  });
}

// ---------------------------------------------------------------- report
const reportTimers = {};
const dirtyFields = new Set();

function readReport() {
  const billing = [$("report-billing-doctor").value, $("report-billing-nurse").value].filter(Boolean);
  return {
    conclusion: $("report-conclusion").value,
    prescriptions: $("report-prescriptions").value,
    act: $("report-act").value,
    billing,
  };
}

function constrainBilling() {
  const act = $("report-act").value;
  const allowed = DOCTOR_CODES[act] || [];
  const doc = $("report-billing-doctor");
  for (const o of doc.options) o.disabled = !allowed.includes(o.value);
  if (!allowed.includes(doc.value)) doc.value = defaultDoctorCode(act);
  const nurse = $("report-billing-nurse");
  const video = act === "teleconsultation";
  for (const o of nurse.options) if (o.value) o.disabled = !video;
  if (!video) nurse.value = "";
}
function defaultDoctorCode(act) {
  if (act === "tele-expertise") return "TE2";
  const sp = state.doctor && state.doctor.specialty;
  return !sp || sp === "médecine générale" ? "TCG" : "TC";
}
function applyDefaultBilling() {
  if (state.report.revision > 0) return;
  $("report-billing-doctor").value = defaultDoctorCode($("report-act").value);
  constrainBilling();
}

function onReportInput(e) {
  const field = e.target.dataset.field;
  if (!field) return;
  if (e.target.id === "report-act") constrainBilling();
  dirtyFields.add(field);
  state.report.pending = true;
  $("report-status").textContent = "Modification en cours…";
  clearTimeout(reportTimers.send);
  reportTimers.send = setTimeout(sendReport, 700);
}

function sendReport() {
  clearTimeout(reportTimers.send);
  const fields = readReport();
  state.report.revision += 1;
  state.report.fields = fields;
  const msg = { type: "report-draft", revision: state.report.revision, author: "doctor", fields };
  const ok = sendData("report", msg);
  dirtyFields.clear();
  state.report.lastAuthor = "doctor";
  state.report.lastTime = Date.now();
  state.report.pending = !ok;
  $("report-status").textContent = ok
    ? `Synchronisé — révision ${state.report.revision}, modifié par vous à ${fmtTime(Date.now())}`
    : `Brouillon local (révision ${state.report.revision}) — sera synchronisé dès la connexion`;
  return msg;
}

// The doctor validates: the station renders the report (PDF, FHIR), stores it for good
// and sends it; the fields then freeze (a correction is a new version, from the station).
function validateReport() {
  if (state.report.validated) return;
  if (!window.confirm("Valider le compte rendu ? Il sera enregistré dans le dossier du résident et envoyé ; il ne pourra plus être modifié, seulement corrigé par une nouvelle version.")) return;
  sendReport();
  const ok = sendData("report", { type: "report-validate", revision: state.report.revision, fields: state.report.fields });
  $("report-validated").hidden = false;
  $("report-validated").textContent = ok ? "Validation en cours…" : "Connexion perdue : réessayez dans un instant.";
}

function showValidated(msg) {
  state.report.validated = true;
  const form = $("report-form");
  form.classList.add("is-validated");
  for (const field of form.querySelectorAll("textarea, select")) field.disabled = true;
  $("report-validate").disabled = true;
  const sent = (msg.deliveries || []).map((d) => `${d.recipient} : ${d.state}`).join(" ; ");
  $("report-validated").hidden = false;
  $("report-validated").textContent = `Compte rendu validé (version ${msg.version}) à ${fmtTime(Date.now())}.`
    + (sent ? ` Envoi — ${sent}.` : " Envoi en attente de configuration à l’EHPAD.");
  $("report-status").textContent = `Validé — version ${msg.version}`;
  toast("Compte rendu validé et enregistré.");
}

function handleReport(msg) {
  log("in", "report", msg);
  if (msg && msg.type === "report-validated") { showValidated(msg); return; }
  if (msg && msg.type === "report-error") {
    $("report-validated").hidden = false;
    $("report-validated").textContent = msg.message || "La validation a échoué.";
    return;
  }
  if (!msg || msg.type !== "report-draft") return;
  const rev = Number(msg.revision) || 0;
  state.report.revision = Math.max(state.report.revision, rev);
  if (msg.author === "doctor") return; // our own revision echoed back
  const f = msg.fields || {};
  const set = (id, field, value) => {
    if (value == null || dirtyFields.has(field)) return;
    const node = $(id);
    if (node.value === value) return;
    node.value = value;
    node.classList.remove("remote-edit");
    void node.offsetWidth;
    node.classList.add("remote-edit");
  };
  set("report-conclusion", "conclusion", f.conclusion);
  set("report-prescriptions", "prescriptions", f.prescriptions);
  if (f.act != null && !dirtyFields.has("act") && DOCTOR_CODES[f.act]) { $("report-act").value = f.act; constrainBilling(); }
  if (Array.isArray(f.billing) && !dirtyFields.has("billing")) {
    const docCode = f.billing.find((c) => ["TCG", "TC", "TE2", "RQD"].includes(c));
    const nurseCode = f.billing.find((c) => NURSE_CODES.includes(c));
    if (docCode) $("report-billing-doctor").value = docCode;
    $("report-billing-nurse").value = nurseCode || "";
  }
  state.report.fields = { ...state.report.fields, ...f };
  state.report.lastAuthor = msg.author || "nurse";
  state.report.lastTime = Date.now();
  const who = msg.author === "nurse" ? "l’infirmier·e" : msg.author || "l’EHPAD";
  $("report-status").textContent = `Révision ${rev} — modifié par ${who} à ${fmtTime(Date.now())}`;
}

// ---------------------------------------------------------------- control & end
function handleControl(msg) {
  if (msg && msg.type === "heartbeat") return;  // liveness only
  log("in", "control", msg);
  switch (msg && msg.type) {
    case "audio-only": {
      setAudioOnlyUi(!!msg.on, msg.cause);
      const why = AUDIO_ONLY_CAUSES[msg.cause] || "";
      toast(msg.on ? `Passage en audio seul${why ? ` (${why})` : ""} : le son et les mesures continuent.`
                   : "Vidéo rétablie.");
      break;
    }
    case "switch-exam": setExamUi(msg.exam); break;
    case "end": endCall("fin de l’appel par l’EHPAD", false); break;
    default: break;
  }
}

function endCall(reason, local) {
  if (state.callState === "ended") return;
  if (local) {
    if (state.report.pending || dirtyFields.size) sendReport();
    sendData("control", { type: "end" });
    sendSignal({ type: "bye", reason: reason || "doctor-ended" });
    state.endedReason = "vous avez mis fin à l’appel";
  } else {
    state.endedReason = reason;
  }
  setCallState("ended");
  setTimeout(() => {
    closePc();
    if (ws) { const s = ws; ws = null; try { s.close(1000); } catch { /* closed */ } }
  }, local ? 400 : 0);
  if (micStream) for (const t of micStream.getTracks()) t.stop();
  stethAnalyser = null;
}

// ---------------------------------------------------------------- wiring
function init() {
  buildVitalTiles();
  plethWave = new ScrollingWave($("pleth"), { seconds: 6, color: "#0b5f8a", mode: "line" });
  phonoWave = new ScrollingWave($("phono"), { seconds: 5, color: "#7a3e9d", mode: "envelope" });
  layoutVideos();
  setupViewer();

  $("join-form").addEventListener("submit", submitJoin);
  setupOidc();
  for (const id of ["join-name", "join-rpps"]) $(id).addEventListener("input", (e) => {
    e.target.removeAttribute("aria-invalid");
    $(`${id}-error`).hidden = true;
  });

  for (const name of ["room", "exam"]) {
    const slot = $(`slot-${name}`);
    slot.addEventListener("click", () => { if (state.mainVideo !== name) swapVideos(); });
    slot.addEventListener("keydown", (e) => {
      if ((e.key === "Enter" || e.key === " ") && state.mainVideo !== name) { e.preventDefault(); swapVideos(); }
    });
  }
  for (const b of document.querySelectorAll(".seg-btn")) b.addEventListener("click", () => {
    setExamUi(b.dataset.exam);
    sendData("control", { type: "switch-exam", exam: b.dataset.exam });
  });

  const vol = $("steth-volume");
  const steth = $("audio-stethoscope");
  vol.addEventListener("input", () => {
    steth.volume = Number(vol.value);
    $("steth-volume-out").textContent = `${Math.round(vol.value * 100)} %`;
  });
  $("steth-mute").addEventListener("click", (e) => {
    steth.muted = !steth.muted;
    e.currentTarget.setAttribute("aria-pressed", String(steth.muted));
    e.currentTarget.textContent = steth.muted ? "Rétablir" : "Couper";
  });

  $("mic-toggle").addEventListener("click", (e) => {
    state.micMuted = !state.micMuted;
    if (micStream) for (const t of micStream.getAudioTracks()) t.enabled = !state.micMuted;
    e.currentTarget.setAttribute("aria-pressed", String(state.micMuted));
    e.currentTarget.textContent = state.micMuted ? "Micro coupé" : "Micro activé";
  });
  $("audio-only").addEventListener("click", () => {
    const on = !state.audioOnly;
    setAudioOnlyUi(on);
    sendData("control", { type: "audio-only", on });
  });
  $("call-end").addEventListener("click", () => $("end-dialog").showModal());
  $("end-dialog").addEventListener("close", () => {
    if ($("end-dialog").returnValue === "confirm") endCall("doctor-ended", true);
  });

  const form = $("report-form");
  form.addEventListener("input", onReportInput);
  form.addEventListener("change", onReportInput);
  form.addEventListener("submit", (e) => e.preventDefault());
  $("report-validate").addEventListener("click", validateReport);
  constrainBilling();

  window.addEventListener("error", (e) => state.errors.push(String(e.message)));
  window.addEventListener("unhandledrejection", (e) => state.errors.push(String(e.reason)));
  window.addEventListener("beforeunload", (e) => {
    if (state.phase === "call" && state.callState !== "ended") { e.preventDefault(); e.returnValue = ""; }
  });
  window.addEventListener("resize", () => { plethWave.dirty = true; phonoWave.dirty = true; renderTrends(); });
}

init();

// Debug and test hook: read state, inject contract messages.
window.__console = {
  state, messages, sent,
  get pc() { return pc; },
  get ws() { return ws; },
  enterCall, setCallState, endCall,
  handleSignal, handleDataMessage, handleVitals, handleWaveform, handleSnapshot, handleReport, handleControl,
  sendReport, readReport,
};
