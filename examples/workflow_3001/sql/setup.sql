-- Workflow 3001's logins, one per step, each bound to its actor with only
-- its rights. Run by the database owner (CREATEROLE), idempotently.
DO $setup$
DECLARE
    v_step record;
BEGIN
    FOR v_step IN
        SELECT s.login, s.actor, s.grp
        FROM (VALUES
            ('wf3001_starter', 'workflow_3001_starter', 'script'),
            ('wf3001_fetcher', 'db_job_fetcher', 'script'),
            ('wf3001_validator', 'postings_staging_validator', 'validator'),
            ('wf3001_parser', 'db_job_parser', 'script'),
            ('wf3001_job_skills', 'job_skill_extractor', 'script'),
            ('wf3001_profile_skills', 'profile_skill_extractor', 'script'),
            ('wf3001_mapper', 'skill_mapper', 'script')
        ) AS s (login, actor, grp)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_step.login) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I LOGIN', v_step.login);
        END IF;
        PERFORM pgstaging.grant_membership(pgstaging.group_role(v_step.grp), v_step.login);
        PERFORM pgstaging.add_actor(v_step.actor, v_step.login);
    END LOOP;
END
$setup$;

SELECT pgstaging.allow_actor('workflow_3001_starter', NULL, 'start');
SELECT pgstaging.allow_actor('db_job_fetcher', 'postings', 'stage');
SELECT pgstaging.allow_actor('db_job_parser', 'postings', 'read');
SELECT pgstaging.allow_actor('db_job_parser', 'postings', 'patch', ARRAY['description']);
SELECT pgstaging.allow_actor('job_skill_extractor', 'postings', 'read');
SELECT pgstaging.allow_actor('job_skill_extractor', 'job_skills', 'stage');
SELECT pgstaging.allow_actor('profile_skill_extractor', 'profile_skills', 'stage');
SELECT pgstaging.allow_actor('skill_mapper', 'skill_aliases', 'stage');
