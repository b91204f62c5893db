"""The ``@task.apiframe_image`` decorator."""
