async () => {
  // A station stand-in in the same page: the transceivers, stream ids and data
  // channels of docs/call-protocol.md, offered through the console's own handler.
  const c = window.__console;
  const canvasTrack = (color) => {
    const cv = document.createElement("canvas"); cv.width = 320; cv.height = 180;
    const g = cv.getContext("2d");
    setInterval(() => { g.fillStyle = color; g.fillRect(0, 0, 320, 180); g.fillStyle = "#fff"; g.fillRect(Date.now() / 10 % 320, 80, 20, 20); }, 50);
    return cv.captureStream(15).getVideoTracks()[0];
  };
  const ac = new AudioContext();
  const toneTrack = (f) => { const o = ac.createOscillator(); o.frequency.value = f;
    const d = ac.createMediaStreamDestination(); o.connect(d); o.start(); return d.stream.getAudioTracks()[0]; };
  const station = window.__station = {};
  station.connect = async () => {
    const pc = new RTCPeerConnection();
    station.pc = pc;
    const tracks = [canvasTrack("#345"), canvasTrack("#a65"), toneTrack(220), toneTrack(60)];
    const dirs = ["sendonly", "sendonly", "sendrecv", "sendonly"];
    tracks.forEach((t, i) => pc.addTransceiver(t, {direction: dirs[i], streams: [new MediaStream([t])]}));
    station.ch = {};
    for (const label of ["vitals", "waveforms", "snapshots", "report", "control"]) {
      station.ch[label] = pc.createDataChannel(label, label === "waveforms" ? {ordered: false, maxRetransmits: 0} : {});
      station.ch[label].binaryType = "arraybuffer";
    }
    station.received = [];
    station.ch.report.onmessage = (e) => station.received.push(["report", JSON.parse(e.data)]);
    station.ch.control.onmessage = (e) => station.received.push(["control", JSON.parse(e.data)]);
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => { if (pc.iceGatheringState === "complete") r(); else pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r(); });
    // name the streams as the station does (msid room/exam/voice/stethoscope)
    const names = ["room", "exam", "voice", "stethoscope"];
    let m = -1;
    const sdp = pc.localDescription.sdp.split("\r\n").map((line) => {
      if (line.startsWith("m=audio") || line.startsWith("m=video")) m++;
      if (line.startsWith("a=msid:") && m >= 0) return line.replace(/^a=msid:\S+/, "a=msid:" + names[m]);
      if (line.startsWith("a=ssrc:") && line.includes(" msid:") && m >= 0) return line.replace(/ msid:\S+/, " msid:" + names[m]);
      return line;
    }).join("\r\n");
    const before = c.sent.filter((s) => s.msg.type === "answer").length;
    c.handleSignal({type: "offer", sdp});
    const t0 = Date.now();
    while (c.sent.filter((s) => s.msg.type === "answer").length === before) {
      if (Date.now() - t0 > 15000) throw new Error("no answer");
      await new Promise((r) => setTimeout(r, 50));
    }
    const answer = c.sent.filter((s) => s.msg.type === "answer").pop().msg;
    await pc.setRemoteDescription({type: "answer", sdp: answer.sdp});
    await new Promise((r) => { const ok = () => Object.values(station.ch).every((d) => d.readyState === "open");
      const iv = setInterval(() => { if (ok()) { clearInterval(iv); r(); } }, 50); });
    return answer.sdp;
  };
}
