"""Flow service: turnstile telemetry in, predicted gate waits, anomalies and redirection out."""
