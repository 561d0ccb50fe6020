"""Weekly checks over the marts, and the e-mails they produce.

Reads the warehouse only (through what the DAG hands it) and never imports Airflow, so every
message can be rendered and inspected in a plain test. ``pilots`` says who receives what,
``render`` turns figures into messages, ``outbox`` writes them as ``.eml`` files when no mail
server is configured.
"""
