"""security: 無害化 of uploaded files (the pure `sanitize` package), quarantine, and later zone checks and
security monitoring. Other apps call `services.sanitize_upload`."""
