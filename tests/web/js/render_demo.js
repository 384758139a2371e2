async ({ctx, measurements}) => {
  const c = window.__console;
  c.enterCall();
  c.handleVitals({type: "call-state", state: "connected", audio_only: false});
  c.handleVitals(ctx);
  for (const m of measurements) c.handleVitals(m);
  c.handleVitals({type: "device", url: "ble://oxy", state: "connected", detail: "Oxymètre Nonin 3230"});
  c.handleVitals({type: "battery", url: "ble://oxy", percent: 80});
  c.handleVitals({type: "device", url: "ble://tensio", state: "connected", detail: "Tensiomètre A&D UA-651"});
  c.handleVitals({type: "device", url: "ble://thermo", state: "connected", detail: "Thermomètre"});
  // 6 s of pleth at 75 Hz and of phonocardiogram envelope at 200 Hz
  const pleth = [], phono = [];
  for (let i = 0; i < 450; i++) { const ph = (i / 75 * 82 / 60) % 1;
    pleth.push(Math.round(2000 + 1500 * Math.exp(-((ph - .25) ** 2) / .012) + 500 * Math.exp(-((ph - .55) ** 2) / .01))); }
  for (let i = 0; i < 1200; i++) { const ph = (i / 200 * 82 / 60) % 1;
    phono.push(0.03 + Math.exp(-((ph - .05) ** 2) / .0006) + 0.7 * Math.exp(-((ph - .4) ** 2) / .0004)); }
  for (let k = 0; k < 6; k++) {
    c.handleWaveform({type: "pleth", rate: 75, start: k, samples: pleth.slice(k * 75, (k + 1) * 75)});
    c.handleWaveform({type: "phono", rate: 200, start: k, samples: phono.slice(k * 200, (k + 1) * 200)});
  }
  c.handleReport({type: "report-draft", revision: 3, author: "nurse", fields: {
    conclusion: "Toux sèche depuis 3 jours, pas de dyspnée. Auscultation : crépitants base droite.",
    prescriptions: "", act: "teleconsultation", billing: ["TCG", "TLS"]}});
  c.handleControl({type: "switch-exam", exam: "otoscope"});
}
