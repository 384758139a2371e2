async () => {
  // Stand-ins for the station's cameras, for the screenshot only.
  const room = document.createElement("canvas"); room.width = 1280; room.height = 720;
  const r = room.getContext("2d");
  const drawRoom = () => {
    const wall = r.createLinearGradient(0, 0, 0, 720); wall.addColorStop(0, "#c9d3d8"); wall.addColorStop(1, "#9eabb2");
    r.fillStyle = wall; r.fillRect(0, 0, 1280, 720);
    r.fillStyle = "#dfe6ea"; r.fillRect(80, 60, 300, 220);             // window
    r.fillStyle = "#7d8c94"; r.fillRect(0, 560, 1280, 160);            // floor
    r.fillStyle = "#eef2f4"; r.fillRect(380, 380, 700, 190);           // bed
    r.fillStyle = "#b7c7d6"; r.fillRect(560, 360, 520, 120);           // blanket
    r.fillStyle = "#ffffff"; r.fillRect(400, 350, 170, 70);            // pillow
    r.fillStyle = "#d9b49c"; r.beginPath(); r.arc(480, 350, 48, 0, 7); r.fill();   // head
    r.fillStyle = "#e8eaec"; r.beginPath(); r.arc(470, 320, 42, Math.PI, 0); r.fill(); // hair
    r.fillStyle = "#3f6f8f"; r.fillRect(1000, 200, 70, 320);           // nurse
    r.fillStyle = "#d9b49c"; r.beginPath(); r.arc(1035, 170, 36, 0, 7); r.fill();
  };
  drawRoom(); setInterval(drawRoom, 200);
  const v = document.getElementById("video-room");
  v.srcObject = room.captureStream(5); await v.play().catch(() => {});
  document.getElementById("slot-room").classList.add("has-video");
  const canvas = document.createElement("canvas"); canvas.width = 640; canvas.height = 360;
  const g = canvas.getContext("2d");
  const draw = () => { const grad = g.createRadialGradient(320, 180, 10, 320, 180, 200);
    grad.addColorStop(0, "#f3c9a8"); grad.addColorStop(0.7, "#b8735a"); grad.addColorStop(1, "#000");
    g.fillStyle = "#000"; g.fillRect(0, 0, 640, 360); g.fillStyle = grad; g.beginPath(); g.arc(320, 180, 170, 0, 7); g.fill(); };
  draw(); setInterval(draw, 200);
  const e = document.getElementById("video-exam");
  e.srcObject = canvas.captureStream(5); await e.play().catch(() => {});
  document.getElementById("slot-exam").classList.add("has-video");
  await new Promise((res) => setTimeout(res, 600));
}
