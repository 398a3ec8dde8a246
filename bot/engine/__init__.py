"""The turn engine: dispatch, routing, dialogs, the context a handler sees, and the services it may use."""
