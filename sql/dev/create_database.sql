CREATE DATABASE pgstaging OWNER pgstaging_owner
