"""Pure rules of configuration: ids, validation, the stance cooldown, the wizard's fleet,
the fleet document. No I/O: the store and the routes call these."""
