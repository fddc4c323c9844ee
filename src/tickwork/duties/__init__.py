"""Long-running duties: the scheduler, the worker, the runner that ties duties to a process,
the node heartbeat, the stall rescuer and the wake-up hub. Operations (validated, audited
changes) live in ``tickwork.services``."""
