"""hotline's web application: health, supervisor, agent and admin pages, REST API."""
