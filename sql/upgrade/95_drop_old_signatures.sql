-- Functions of 0.1.0 that 0.2.0 replaced with new signatures. Dropped only
-- now: the old entry points depended on them until regenerated above.
DO $drop$
DECLARE
    v_old text;
BEGIN
    FOREACH v_old IN ARRAY ARRAY[
        'pgstaging.run_promotion(name, integer, text, boolean, bigint[])',
        'pgstaging.run_unpromotion(name, integer, text, boolean)'
    ] LOOP
        IF to_regprocedure(v_old) IS NOT NULL THEN
            EXECUTE 'DROP FUNCTION ' || v_old;
        END IF;
    END LOOP;
END
$drop$;
