"""The operators: faces over the job core (``job.py``, ``job_batch.py``), and the store operator."""
