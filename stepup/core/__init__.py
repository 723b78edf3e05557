"""Compatibility layer: plan scripts written for StepUp 1.x import stepup_trio through here."""
