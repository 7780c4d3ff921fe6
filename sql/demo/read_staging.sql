-- What a nosy script might do: read other scripts' raw data.
SELECT raw_data FROM postings_staging ORDER BY staging_id LIMIT 1
