-- Owner only: switch a staged table's guard (observe | enforce).
SELECT pgstaging.set_guard(%(table)s, %(mode)s, p_force => %(force)s)
