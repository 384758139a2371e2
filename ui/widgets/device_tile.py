"""One instrument on the examination screen: its latest values, when they were
read, whether it is connected, its battery, and any quality flag in words."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from devices.measurement import Kind, Measurement, Quality, display_unit
from ui.i18n import _

LOW_BATTERY = 20  # percent: say it before the device stops mid-examination


def kind_label(kind: Kind | str) -> str:
    """What a measurement is called on a tile (short: tiles are small)."""
    labels = {
        Kind.SPO2: _("SpO2"), Kind.PULSE_RATE: _("Pulse"),
        Kind.BODY_TEMPERATURE: _("Temp."), Kind.SYSTOLIC: _("Syst."),
        Kind.DIASTOLIC: _("Diast."), Kind.MEAN_ARTERIAL_PRESSURE: _("Mean"),
        Kind.BODY_WEIGHT: _("Weight"), Kind.BMI: _("BMI"), Kind.HEIGHT: _("Height"),
        Kind.PERFUSION_INDEX: _("Perfusion"), Kind.PLETH: _("Pleth"),
    }
    try:
        return labels[Kind(kind)]
    except ValueError:
        return str(kind)


def quality_label(flag: Quality | str) -> str:
    """A quality flag as the nurse reads it (what to check is implied by the words)."""
    labels = {
        Quality.IMPLAUSIBLE: _("implausible value"), Quality.FINGER_OUT: _("finger out"),
        Quality.SEARCHING: _("searching"), Quality.LOW_PERFUSION: _("weak signal"),
        Quality.ARTIFACT: _("artefact"), Quality.SENSOR_FAULT: _("sensor fault"),
        Quality.MOTION: _("movement"), Quality.CUFF_LOOSE: _("cuff loose"),
        Quality.IRREGULAR_PULSE: _("irregular pulse"),
        Quality.IMPROPER_POSITION: _("badly placed"), Quality.NOT_A_NUMBER: _("no value"),
        Quality.OUT_OF_RANGE: _("out of range"), Quality.CLOCK_NOT_SET: _("device clock not set"),
        Quality.EARLY_ESTIMATE: _("first estimate"), Quality.VALIDATED: _("validated"),
    }
    try:
        return labels[Quality(flag)]
    except ValueError:
        return str(flag)


def device_title(url: str) -> str:
    """A readable name for an instrument from its URL (simulators and real ones)."""
    names = (("blood-pressure", _("Blood pressure monitor")),
             ("oximeter", _("Pulse oximeter")), ("thermometer", _("Thermometer")),
             ("scale", _("Scale")), ("stethoscope", _("Stethoscope")),
             ("otoscope", _("Otoscope")), ("dermatoscope", _("Dermatoscope")),
             ("room", _("Room camera")))
    lowered = url.lower()
    for key, name in names:
        if key in lowered:
            serial = " (" + _("wired") + ")" if "serial" in lowered else ""
            return name + serial
    return url


def reading_time(when: datetime) -> str:
    """The local time of a reading, to the second."""
    return when.astimezone().strftime("%H:%M:%S")


class DeviceTile(QFrame):
    """The tile of one device (URL); rows appear as kinds of values arrive."""

    def __init__(self, url: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.url = url
        self.setProperty("role", "card")
        self.setObjectName("device-tile")
        self.setMinimumWidth(170)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(2)
        head = QHBoxLayout()
        self.title = QLabel(device_title(url))
        self.title.setStyleSheet("font-weight: 600;")
        head.addWidget(self.title, 1)
        self.battery = QLabel()
        self.battery.setObjectName("battery")
        self.battery.setProperty("role", "muted")
        head.addWidget(self.battery)
        layout.addLayout(head)
        status = QHBoxLayout()
        self.when = QLabel()
        self.when.setObjectName("reading-time")
        self.when.setProperty("role", "muted")
        self.state = QLabel(_("Connecting…"))
        self.state.setProperty("role", "muted")
        status.addWidget(self.state)
        status.addWidget(self.when, 1)
        layout.addLayout(status)
        self.rows = QGridLayout()
        self.rows.setHorizontalSpacing(8)
        self.rows.setVerticalSpacing(0)
        layout.addLayout(self.rows)
        self.flags = QLabel()
        self.flags.setProperty("role", "error")
        self.flags.setWordWrap(True)
        self.flags.hide()
        layout.addWidget(self.flags)
        layout.addStretch(1)
        self.values: dict[str, QLabel] = {}
        self.latest: dict[str, Measurement] = {}

    # --- what the screen feeds it ------------------------------------------------------

    def set_connection(self, state: str, detail: str = "") -> None:
        """``connected``, ``lost`` or ``unavailable`` (the DeviceEvent kind)."""
        texts = {"connected": _("Connected"), "lost": _("Connection lost: reconnecting…"),
                 "unavailable": _("Not found: switch it on and bring it closer")}
        self.state.setText(texts.get(state, state))
        self.state.setProperty("role", "muted" if state == "connected" else "error")
        self.state.setToolTip(detail)
        self._restyle(self.state)

    def set_battery(self, percent: int) -> None:
        """Battery level; a low one is said in words, not only by a number."""
        text = _("Batt. {percent} %").format(percent=percent)
        if percent <= LOW_BATTERY:
            text = _("Battery low ({percent} %)").format(percent=percent)
        self.battery.setText(text)
        self.battery.setProperty("role", "error" if percent <= LOW_BATTERY else "muted")
        self._restyle(self.battery)

    def show_measurement(self, measurement: Measurement) -> None:
        """Show the latest stored value of its kind, with unit, time and flags."""
        key = measurement.kind.value
        if key == Kind.PLETH.value:
            return
        self.latest[key] = measurement
        label = self.values.get(key)
        if label is None:
            row = len(self.values)
            name = QLabel(kind_label(measurement.kind))
            name.setProperty("role", "muted")
            label = QLabel()
            label.setObjectName(f"value-{key}")
            label.setTextFormat(Qt.TextFormat.RichText)
            self.rows.addWidget(name, row, 0)
            self.rows.addWidget(label, row, 1, Qt.AlignmentFlag.AlignRight)
            self.values[key] = label
        unit = display_unit(measurement.unit)
        label.setText(f"<span style='font-size:15pt; font-weight:600'>"
                      f"{measurement.display_value()}</span> {unit}")
        label.setToolTip(reading_time(measurement.time))
        newest = max(m.time for m in self.latest.values())
        self.when.setText(" · " + _("read at {time}").format(time=reading_time(newest)))
        flags = sorted({quality_label(flag) for latest in self.latest.values()
                        for flag in latest.quality if flag is not Quality.VALIDATED})
        self.flags.setText(" · ".join(flags))
        self.flags.setVisible(bool(flags))
        if self.state.text() == _("Connecting…"):
            self.set_connection("connected")

    def value_text(self, kind: Kind | str) -> str:
        """The value shown for ``kind`` (as displayed, without the unit); '' if none."""
        measurement = self.latest.get(Kind(kind).value)
        return measurement.display_value() if measurement is not None else ""

    @staticmethod
    def _restyle(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)
