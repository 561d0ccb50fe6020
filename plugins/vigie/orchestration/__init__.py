"""What Airflow needs of Vigie besides the tasks themselves: the assets between DAGs, the DAGs'
shared defaults, the executors and Celery config that preload dbt, the failure notifier, and
how Cosmos runs the dbt project (its modes and the cheaper watcher)."""
