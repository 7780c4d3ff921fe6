-- Before each timed step (superuser): start from a clean checkpoint.
CHECKPOINT
