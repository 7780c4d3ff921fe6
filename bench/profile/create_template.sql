CREATE DATABASE {name} OWNER pgstaging_owner
