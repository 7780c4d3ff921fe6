-- What a nosy script might do: read other scripts' raw data.
SELECT raw_data FROM postings_staging LIMIT 1
