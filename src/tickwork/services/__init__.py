"""Long-running duties (scheduler, worker, rescuer) and the operations behind every interface."""
