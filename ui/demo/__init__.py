"""The app's demo mode: the demo store, a scripted offscreen tour with a browser
doctor when there is no display (:mod:`ui.demo.launch`, :mod:`ui.demo.tour`), and
the taps the tour, the tests and the benchmark share (:mod:`ui.demo.taps`)."""
