"""The kernel every service uses: app factory, schemas, model store, model holder."""
