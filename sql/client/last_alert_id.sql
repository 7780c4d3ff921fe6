-- Where a watcher without --since starts: after the newest alert.
SELECT coalesce(max(a.alert_id), 0) AS alert_id FROM pgstaging.alerts AS a
