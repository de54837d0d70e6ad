"""SoundModule: effects synthesised in code (no asset files), quiet with no audio device.

Each tick it plays what the game module perceived this tick (its
``events``): blows, misses, arrows, deaths, doors, sparks, talk and chat
pings, and the avatar's own footsteps while it walks. Sounds are built at
start from pyglet's synthesis (sine, square, noise, with decaying
envelopes) and held in memory; far sounds are quieter (silent past 30 m).

With no audio device pyglet falls back to its silent driver; if even
that fails (no display for pyglet.media to import with, a broken driver)
the module stays silent and counts nothing as an error: sound is a
nicety, never a reason for the client to stop. :attr:`played` counts the
sounds played (the silent driver counts too), by kind.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

from engine.modules import Module

__all__ = ["SoundModule"]

HEARING = 30.0
FOOTSTEP_EVERY = 0.42
_MAX_PLAYERS = 16


class SoundModule(Module):
    """Plays the game module's perceptions; see the module docstring."""

    kind = "client_sound"

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None, *, run_level: int = 0):
        super().__init__(name, settings, run_level=run_level)
        self.enabled = False
        self.why_silent = ""
        self.played: Counter[str] = Counter()
        self._sounds: dict[str, Any] = {}
        self._players: list[Any] = []
        self._game: Any = None
        self._next_step = 0.0
        self._last_line: Any = None
        self._media: Any = None

    def start(self) -> None:
        self._game = self.engine.module(str(self.settings.get("game", "game")))
        if not self.settings.get("enabled", True):
            self.why_silent = "disabled in the stack"
            return
        try:
            import pyglet.media as media
            from pyglet.media import synthesis as syn

            self._media = media
            media.get_audio_driver()
            decay = syn.LinearDecayEnvelope
            adsr = syn.ADSREnvelope
            self._sounds = {
                "hit": media.StaticSource(syn.WhiteNoise(0.12, envelope=decay(0.6))),
                "miss": media.StaticSource(syn.WhiteNoise(0.2, envelope=adsr(0.05, 0.1, 0.05, 0.2))),
                "arrow": media.StaticSource(syn.Sawtooth(0.18, 1200, envelope=decay(0.25))),
                "death": media.StaticSource(syn.Sine(0.6, 110, envelope=decay(0.7))),
                "door": media.StaticSource(syn.Triangle(0.3, 180, envelope=adsr(0.02, 0.1, 0.1, 0.5))),
                "spark": media.StaticSource(syn.Square(0.15, 1600, envelope=decay(0.3))),
                "footstep": media.StaticSource(syn.WhiteNoise(0.05, envelope=decay(0.25))),
                "talk": media.StaticSource(syn.Sine(0.08, 880, envelope=decay(0.3))),
                "chat": media.StaticSource(syn.Sine(0.12, 1320, envelope=decay(0.3))),
            }
            self.enabled = True
        except Exception as exc:  # no device, no driver, no display for pyglet.media: stay silent
            self.why_silent = f"{type(exc).__name__}: {exc}"
            self.log.info("sound off: %s", self.why_silent)

    def tick(self) -> None:
        game = self._game
        mirror = game.mirror
        last = mirror.log[-1] if mirror.log else None
        if not mirror.me:
            self._last_line = last
            return
        mx, my, _, _ = mirror.my_position()
        for ev in game.events:
            what = ev.what if ev.kind == "sound" else ev.kind
            if ev.kind == "hit" and ev.what == "arrow":
                what = "arrow"
            if what not in self._sounds and self.enabled:
                continue
            distance = math.hypot(ev.x - mx, ev.y - my) if ev.source != mirror.me else 0.0
            self._play(what, max(0.0, 1.0 - distance / HEARING))
        if last is not None and last is not self._last_line and last.kind == "chat":
            self._play("chat", 0.6)
        self._last_line = last
        vx, vy = game.velocity
        now = self.engine.time
        if (vx or vy) and now >= self._next_step:
            self._next_step = now + FOOTSTEP_EVERY
            self._play("footstep", 0.35)

    def _play(self, what: str, volume: float) -> None:
        if volume <= 0.0:
            return
        self.played[what] += 1
        if not self.enabled:
            return
        try:
            self._players = [p for p in self._players if p.playing]
            if len(self._players) >= _MAX_PLAYERS:
                return
            player = self._sounds[what].play()
            player.volume = volume
            self._players.append(player)
        except Exception as exc:  # a driver that fails mid-game: go quiet, keep playing the game
            self.enabled = False
            self.why_silent = f"{type(exc).__name__}: {exc}"
            self.log.warning("sound off: %s", self.why_silent)

    def status(self) -> dict[str, Any]:
        out = super().status()
        out.update(enabled=self.enabled, why_silent=self.why_silent, played=dict(self.played))
        return out
