-- Variant: leave half of each staging page free at insert, room for the
-- promotion's new row versions on the same page (HOT, if no indexed column
-- changes).
ALTER TABLE postings_staging SET (fillfactor = 50)
