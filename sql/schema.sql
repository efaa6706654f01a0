-- QBank schema of record (PostgreSQL). qbank/store/models.py mirrors it; tests/store/test_schema.py
-- creates both in PostgreSQL and proves they agree. Every statement is idempotent, so
-- `qbank db init` can run it again on an existing database.

CREATE TABLE IF NOT EXISTS users (
    id BIGSERIAL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    username VARCHAR(128) NOT NULL,
    password_hash VARCHAR(256) NOT NULL,
    roles JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT uq_users_tenant_username UNIQUE (tenant_id, username)
);

CREATE TABLE IF NOT EXISTS topics (
    id BIGSERIAL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    parent_id BIGINT REFERENCES topics (id),
    name VARCHAR(200) NOT NULL,
    blueprint_code VARCHAR(64),
    CONSTRAINT uq_topics_tenant_name UNIQUE (tenant_id, name)
);

CREATE TABLE IF NOT EXISTS questions (
    id BIGSERIAL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    external_ref VARCHAR(128),
    created_by VARCHAR(128) NOT NULL,
    is_deleted BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT uq_questions_tenant_external_ref UNIQUE (tenant_id, external_ref)
);

CREATE TABLE IF NOT EXISTS question_versions (
    id BIGSERIAL PRIMARY KEY,
    question_id BIGINT NOT NULL REFERENCES questions (id),
    version INTEGER NOT NULL,
    state VARCHAR(16) NOT NULL,
    stem_md TEXT NOT NULL,
    lead_in TEXT NOT NULL,
    rationale_md TEXT NOT NULL,
    difficulty_label VARCHAR(16) NOT NULL,
    bloom_level VARCHAR(32),
    topic_id BIGINT NOT NULL REFERENCES topics (id),
    tags JSONB NOT NULL,
    assets JSONB NOT NULL,
    "references" JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT uq_question_versions_question_version UNIQUE (question_id, version),
    CONSTRAINT ck_question_versions_state CHECK (state IN ('draft', 'published', 'retired')),
    CONSTRAINT ck_question_versions_difficulty
        CHECK (difficulty_label IN ('easy', 'medium', 'hard')),
    CONSTRAINT ck_question_versions_version_positive CHECK (version >= 1)
);

CREATE TABLE IF NOT EXISTS question_options (
    id BIGSERIAL PRIMARY KEY,
    question_version_id BIGINT NOT NULL REFERENCES question_versions (id),
    option_label VARCHAR(1) NOT NULL,
    option_text_md TEXT NOT NULL,
    is_correct BOOLEAN NOT NULL,
    CONSTRAINT uq_question_options_version_label UNIQUE (question_version_id, option_label),
    CONSTRAINT ck_question_options_label CHECK (option_label IN ('A','B','C','D','E','F','G','H','I','J'))
);
-- At most one correct option per version (the service also requires at least one).
CREATE UNIQUE INDEX IF NOT EXISTS uq_question_options_one_correct
    ON question_options (question_version_id) WHERE is_correct;

CREATE TABLE IF NOT EXISTS question_publications (
    id BIGSERIAL PRIMARY KEY,
    question_id BIGINT NOT NULL,
    live_version INTEGER NOT NULL,
    exam_code VARCHAR(64) NOT NULL,
    tenant_id VARCHAR(64) NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT uq_question_publications_question_exam UNIQUE (question_id, exam_code),
    CONSTRAINT fk_question_publications_version FOREIGN KEY (question_id, live_version)
        REFERENCES question_versions (question_id, version)
);

CREATE TABLE IF NOT EXISTS quiz_sessions (
    id UUID PRIMARY KEY,
    user_id VARCHAR(128) NOT NULL,
    tenant_id VARCHAR(64) NOT NULL,
    mode VARCHAR(16) NOT NULL,
    adaptive BOOLEAN NOT NULL,
    exam_code VARCHAR(64) NOT NULL,
    filters JSONB NOT NULL,
    plan JSONB,
    num_questions INTEGER NOT NULL,
    stop_se DOUBLE PRECISION,
    status VARCHAR(16) NOT NULL,
    theta DOUBLE PRECISION NOT NULL,
    se DOUBLE PRECISION NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    CONSTRAINT ck_quiz_sessions_mode CHECK (mode IN ('tutor', 'exam')),
    CONSTRAINT ck_quiz_sessions_status CHECK (status IN ('active', 'finished', 'expired'))
);
-- Per-student limits count a student's quizzes (active ones, today's) on every create.
CREATE INDEX IF NOT EXISTS ix_quiz_sessions_tenant_user_created
    ON quiz_sessions (tenant_id, user_id, created_at);
-- r_max delivery and the Monitor count an exam's quizzes.
CREATE INDEX IF NOT EXISTS ix_quiz_sessions_tenant_exam ON quiz_sessions (tenant_id, exam_code);

CREATE TABLE IF NOT EXISTS quiz_items (
    id BIGSERIAL PRIMARY KEY,
    quiz_id UUID NOT NULL REFERENCES quiz_sessions (id),
    question_id BIGINT NOT NULL,
    version INTEGER NOT NULL,
    position INTEGER NOT NULL,
    selector VARCHAR(32) NOT NULL,
    theta_at_selection DOUBLE PRECISION,
    a DOUBLE PRECISION NOT NULL,
    b DOUBLE PRECISION NOT NULL,
    c DOUBLE PRECISION NOT NULL,
    k DOUBLE PRECISION NOT NULL,
    served_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT uq_quiz_items_quiz_position UNIQUE (quiz_id, position),
    CONSTRAINT fk_quiz_items_version FOREIGN KEY (question_id, version)
        REFERENCES question_versions (question_id, version)
);
-- Items the set-aside lottery took out of this quiz at this step: [[question_id, version], …].
ALTER TABLE quiz_items ADD COLUMN IF NOT EXISTS set_aside JSONB;
-- Conditional S–H: the θ̂ stratum whose k the item's lottery used (NULL: one k for all θ).
ALTER TABLE quiz_items ADD COLUMN IF NOT EXISTS stratum INTEGER;

-- Today's exposure counters are rebuilt from the items served today (Redis restarted).
CREATE INDEX IF NOT EXISTS ix_quiz_items_served_at ON quiz_items (served_at);

CREATE TABLE IF NOT EXISTS user_responses (
    id BIGSERIAL PRIMARY KEY,
    quiz_id UUID REFERENCES quiz_sessions (id),
    user_id VARCHAR(128) NOT NULL,
    tenant_id VARCHAR(64) NOT NULL,
    question_id BIGINT NOT NULL,
    version INTEGER NOT NULL,
    option_label VARCHAR(1) NOT NULL,
    is_correct BOOLEAN NOT NULL,
    time_taken_ms INTEGER,
    idempotency_key VARCHAR(128),
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT uq_user_responses_quiz_idempotency UNIQUE (quiz_id, idempotency_key),
    CONSTRAINT uq_user_responses_quiz_item UNIQUE (quiz_id, question_id, version),
    CONSTRAINT fk_user_responses_version FOREIGN KEY (question_id, version)
        REFERENCES question_versions (question_id, version)
);
CREATE INDEX IF NOT EXISTS ix_user_responses_item_time
    ON user_responses (question_id, version, created_at);
-- An Idempotency-Key is checked against the user's other quizzes before it is stored.
CREATE INDEX IF NOT EXISTS ix_user_responses_user_idempotency
    ON user_responses (tenant_id, user_id, idempotency_key);

CREATE TABLE IF NOT EXISTS item_calibration (
    question_id BIGINT NOT NULL,
    version INTEGER NOT NULL,
    model VARCHAR(8) NOT NULL,
    a DOUBLE PRECISION NOT NULL,
    b DOUBLE PRECISION NOT NULL,
    c DOUBLE PRECISION NOT NULL,
    n_respondents INTEGER NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (question_id, version),
    CONSTRAINT fk_item_calibration_version FOREIGN KEY (question_id, version)
        REFERENCES question_versions (question_id, version),
    CONSTRAINT ck_item_calibration_a_positive CHECK (a > 0),
    CONSTRAINT ck_item_calibration_c_range CHECK (c >= 0 AND c < 1)
);
-- Standard errors of an MML calibration (qbank calibrate-irt); NULL where not estimated.
ALTER TABLE item_calibration ADD COLUMN IF NOT EXISTS se_a DOUBLE PRECISION;
ALTER TABLE item_calibration ADD COLUMN IF NOT EXISTS se_b DOUBLE PRECISION;
ALTER TABLE item_calibration ADD COLUMN IF NOT EXISTS se_c DOUBLE PRECISION;
-- Who wrote the current values: 'run:<id>', 'rollback:<id>', 'manual' or 'import' (NULL: older rows).
ALTER TABLE item_calibration ADD COLUMN IF NOT EXISTS changed_by VARCHAR(64);

CREATE TABLE IF NOT EXISTS item_exposure_control (
    question_id BIGINT NOT NULL,
    version INTEGER NOT NULL,
    sh_p DOUBLE PRECISION NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (question_id, version),
    CONSTRAINT fk_item_exposure_control_version FOREIGN KEY (question_id, version)
        REFERENCES question_versions (question_id, version),
    CONSTRAINT ck_item_exposure_control_sh_p CHECK (sh_p >= 0 AND sh_p <= 1)
);
ALTER TABLE item_exposure_control ADD COLUMN IF NOT EXISTS changed_by VARCHAR(64);
-- The S–H update rule that produced sh_p ('sympson-hetter': delivery sets the item aside for the
-- rest of a quiz when it loses its lottery); NULL for the seed's rule and manual values.
ALTER TABLE item_exposure_control ADD COLUMN IF NOT EXISTS update_rule VARCHAR(32);
-- Conditional S–H (Stocking & Lewis 1998): the increasing θ cut points and one k per stratum
-- they make (len(strata) + 1 values, in stratum order); delivery's lottery takes the k of the
-- stratum holding the student's current θ̂. NULL: one k (sh_p) for every θ. For a conditional
-- row sh_p is the k of the stratum holding θ = 0, where every quiz starts.
ALTER TABLE item_exposure_control ADD COLUMN IF NOT EXISTS strata JSONB;
ALTER TABLE item_exposure_control ADD COLUMN IF NOT EXISTS sh_p_by_stratum JSONB;

-- One test design per exam (qbank.cat.design.TestDesign's JSON form): selection rule, estimator,
-- exposure control, stopping rules and blueprint. An exam without a row uses the defaults and
-- the selector_strategy flag. A new table: `qbank db init` creates it on existing databases.
CREATE TABLE IF NOT EXISTS exam_designs (
    tenant_id VARCHAR(64) NOT NULL,
    exam_code VARCHAR(64) NOT NULL,
    design JSONB NOT NULL,
    updated_by VARCHAR(128),
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, exam_code)
);

CREATE TABLE IF NOT EXISTS feature_flags (
    tenant_id VARCHAR(64) NOT NULL,
    key VARCHAR(128) NOT NULL,
    enabled BOOLEAN NOT NULL,
    value_json JSONB,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE IF NOT EXISTS cohort_assignments (
    tenant_id VARCHAR(64) NOT NULL,
    user_id VARCHAR(128) NOT NULL,
    cohort_key VARCHAR(128) NOT NULL,
    cohort_value VARCHAR(256) NOT NULL,
    PRIMARY KEY (tenant_id, user_id, cohort_key)
);

CREATE TABLE IF NOT EXISTS calibration_runs (
    id UUID PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    exam_code VARCHAR(64) NOT NULL,
    status VARCHAR(16) NOT NULL,
    dry_run BOOLEAN NOT NULL,
    params JSONB NOT NULL,
    history JSONB NOT NULL,
    result JSONB,
    error TEXT,
    current_iter INTEGER NOT NULL,
    total_iters INTEGER NOT NULL,
    avg_exp DOUBLE PRECISION,
    max_over DOUBLE PRECISION,
    job_id VARCHAR(128),
    heartbeat_at TIMESTAMPTZ,
    applied_at TIMESTAMPTZ,
    rolled_back_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    CONSTRAINT ck_calibration_runs_status
        CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled'))
);
-- What a forced apply or rollback overrode, or why a finished run's values were not applied.
ALTER TABLE calibration_runs ADD COLUMN IF NOT EXISTS apply_note TEXT;
CREATE INDEX IF NOT EXISTS ix_calibration_runs_tenant_exam_created
    ON calibration_runs (tenant_id, exam_code, created_at);
