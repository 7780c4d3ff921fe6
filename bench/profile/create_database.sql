CREATE DATABASE {name} TEMPLATE {template} OWNER pgstaging_owner STRATEGY file_copy
