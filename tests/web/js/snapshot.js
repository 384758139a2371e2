async ({id, wrong, exam}) => {
  const canvas = document.createElement("canvas");
  canvas.width = 800; canvas.height = 600;
  const g = canvas.getContext("2d");
  const grad = g.createRadialGradient(400, 300, 20, 400, 300, 420);
  grad.addColorStop(0, "#e8b49a"); grad.addColorStop(0.6, "#c98d74"); grad.addColorStop(1, "#3b2119");
  g.fillStyle = grad; g.fillRect(0, 0, 800, 600);
  g.fillStyle = "#6b3a2a"; g.beginPath(); g.ellipse(420 + id * 10, 290, 70, 48, 0.4, 0, 7); g.fill();
  const blob = await new Promise((r) => canvas.toBlob(r, "image/png"));
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  if (wrong) hex = hex.replace(/^./, (ch) => (ch === "0" ? "1" : "0"));
  const c = window.__console;
  await c.handleDataMessage("snapshots", JSON.stringify({type: "snapshot-begin", id: "snap-" + id, name: "snap-" + id + ".png",
    exam, width: 800, height: 600, size: bytes.length, sha256: hex}));
  for (let off = 0; off < bytes.length; off += 16384) await c.handleDataMessage("snapshots", bytes.slice(off, off + 16384).buffer);
  const rec = await c.handleDataMessage("snapshots", JSON.stringify({type: "snapshot-end", id: "snap-" + id}));
  return {ok: rec.ok, size: bytes.length};
}
