import ServiceKit

/// The registry's tables. Each record is kept whole as its protobuf encoding in `body`, with
/// the columns queries filter, sort and join on beside it; the columns are written from the
/// record in the same statement, so they never disagree.
///
/// Region keys are the 12-digit padded codes (`RegionCode.padded12`): a subtree is a range of
/// keys (`BETWEEN prefix000… AND prefix999…`), which both engines answer from an index.
enum RegistrySchema {
    /// Every step, in order; applied at start by ``RegistryStore/open(_:)``.
    static let migrations: [Migration] = [
        Migration(version: 1, name: "registry: regions, members, history, negative list, changes") { d in
            let text = d.textType
            let blob = d.blobType
            return [
                """
                CREATE TABLE regions (
                    code \(text) PRIMARY KEY,
                    region_key \(text) NOT NULL UNIQUE,
                    parent_code \(text) NOT NULL,
                    name \(text) NOT NULL,
                    level INTEGER NOT NULL,
                    active INTEGER NOT NULL,
                    version BIGINT NOT NULL,
                    body \(blob) NOT NULL
                )
                """,
                "CREATE INDEX regions_parent ON regions (parent_code, code)",
                membersTable("members", d),
                "CREATE INDEX members_region ON members (region_key, name, id)",
                "CREATE INDEX members_name ON members (name, id)",
                "CREATE INDEX members_native ON members (native_key)",
                "CREATE INDEX members_credit_code ON members (credit_code)",
                // A person is registered at most once among members that are not EXITED or
                // REJECTED (PENDING 1, ACTIVE 2, SUSPENDED 3).
                "CREATE UNIQUE INDEX members_resident_live ON members (resident_id) WHERE status IN (1, 2, 3)",
                """
                CREATE TABLE member_tags (
                    member_id \(text) NOT NULL,
                    kind INTEGER NOT NULL,
                    value \(text) NOT NULL,
                    PRIMARY KEY (member_id, kind, value)
                )
                """,
                "CREATE INDEX member_tags_value ON member_tags (kind, value, member_id)",
                """
                CREATE TABLE history (
                    id \(text) PRIMARY KEY,
                    seq BIGINT NOT NULL UNIQUE,
                    member_id \(text) NOT NULL,
                    organisation_id \(text) NOT NULL,
                    event_kind INTEGER NOT NULL,
                    event_us BIGINT NOT NULL,
                    body \(blob) NOT NULL
                )
                """,
                "CREATE INDEX history_member ON history (member_id, seq)",
                "CREATE INDEX history_organisation ON history (organisation_id, seq)",
                """
                CREATE TABLE negative_list (
                    id \(text) PRIMARY KEY,
                    subject_kind INTEGER NOT NULL,
                    identifier \(text) NOT NULL,
                    region_key \(text) NOT NULL,
                    name \(text) NOT NULL,
                    effective_day BIGINT NOT NULL,
                    expiry_day BIGINT,
                    removed INTEGER NOT NULL,
                    create_us BIGINT NOT NULL,
                    version BIGINT NOT NULL,
                    body \(blob) NOT NULL
                )
                """,
                "CREATE INDEX negative_list_identifier ON negative_list (identifier)",
                """
                CREATE TABLE idempotency (
                    caller_id \(text) NOT NULL,
                    method \(text) NOT NULL,
                    request_id \(text) NOT NULL,
                    request \(blob) NOT NULL,
                    response \(blob) NOT NULL,
                    create_us BIGINT NOT NULL,
                    PRIMARY KEY (caller_id, method, request_id)
                )
                """,
                // The change feed (outbox): written in the transaction of the change. The
                // "changes" counter is incremented by every change, which on PostgreSQL also
                // locks its row until commit, so sequences follow commit order even across
                // processes. "history" orders history entries (instants can tie).
                changesTable("changes", d, sequenceKey: "BIGINT PRIMARY KEY"),
                "CREATE TABLE counters (name \(text) PRIMARY KEY, value BIGINT NOT NULL)",
                "INSERT INTO counters (name, value) VALUES ('changes', 0)",
                "INSERT INTO counters (name, value) VALUES ('history', 0)",
            ]
        },
        Migration(version: 2, name: "registry: organisations, memberships, contact records") { d in
            let text = d.textType
            let blob = d.blobType
            return [
                """
                CREATE TABLE organisations (
                    id \(text) PRIMARY KEY,
                    region_key \(text) NOT NULL,
                    kind INTEGER NOT NULL,
                    status INTEGER NOT NULL,
                    name \(text) NOT NULL,
                    credit_code \(text),
                    parent_id \(text) NOT NULL,
                    version BIGINT NOT NULL,
                    body \(blob) NOT NULL
                )
                """,
                "CREATE INDEX organisations_region ON organisations (region_key, name, id)",
                "CREATE INDEX organisations_parent ON organisations (parent_id)",
                // Credit codes are unique among active organisations; a village has at most
                // one active liaison station (kind 8).
                "CREATE UNIQUE INDEX organisations_credit_live ON organisations (credit_code) WHERE status = 1",
                "CREATE UNIQUE INDEX organisations_station ON organisations (region_key) WHERE kind = 8 AND status = 1",
                """
                CREATE TABLE memberships (
                    id \(text) PRIMARY KEY,
                    organisation_id \(text) NOT NULL,
                    member_id \(text) NOT NULL,
                    active INTEGER NOT NULL,
                    start_day BIGINT NOT NULL,
                    version BIGINT NOT NULL,
                    body \(blob) NOT NULL
                )
                """,
                "CREATE INDEX memberships_organisation ON memberships (organisation_id, active, start_day, id)",
                "CREATE INDEX memberships_member ON memberships (member_id, active, start_day, id)",
                "CREATE UNIQUE INDEX memberships_live ON memberships (organisation_id, member_id) WHERE active = 1",
                """
                CREATE TABLE contacts (
                    id \(text) PRIMARY KEY,
                    member_id \(text) NOT NULL,
                    region_key \(text) NOT NULL,
                    cadre_id \(text) NOT NULL,
                    kind INTEGER NOT NULL,
                    contact_us BIGINT NOT NULL,
                    summary_year INTEGER NOT NULL,
                    version BIGINT NOT NULL,
                    body \(blob) NOT NULL
                )
                """,
                "CREATE INDEX contacts_member ON contacts (member_id, kind, contact_us)",
                "CREATE INDEX contacts_region ON contacts (region_key, contact_us)",
                "CREATE INDEX contacts_time ON contacts (contact_us, id)",
                "CREATE UNIQUE INDEX contacts_summary ON contacts (member_id, summary_year) WHERE kind = 3",
            ]
        },
        // Member tallies per region, kept in the transaction of every member change, so that
        // statistics sum a few rows per region instead of scanning members: kind 1 counts by
        // (primary category, status), kind 2 ACTIVE members by any of their categories, kind 3
        // EXITED members by (primary category, exit day).
        Migration(version: 3, name: "registry: member tallies for statistics") { d in
            [
                """
                CREATE TABLE member_tallies (
                    region_key \(d.textType) NOT NULL,
                    kind INTEGER NOT NULL,
                    category INTEGER NOT NULL,
                    bucket BIGINT NOT NULL,
                    n BIGINT NOT NULL,
                    PRIMARY KEY (region_key, kind, category, bucket)
                )
                """,
                """
                INSERT INTO member_tallies (region_key, kind, category, bucket, n)
                SELECT region_key, 1, category, status, COUNT(*) FROM members GROUP BY region_key, category, status
                """,
                """
                INSERT INTO member_tallies (region_key, kind, category, bucket, n)
                SELECT m.region_key, 2, CAST(t.value AS INTEGER), 0, COUNT(*) FROM members m
                JOIN member_tags t ON t.member_id = m.id AND t.kind = 1
                WHERE m.status = 2 GROUP BY m.region_key, CAST(t.value AS INTEGER)
                """,
                """
                INSERT INTO member_tallies (region_key, kind, category, bucket, n)
                SELECT region_key, 3, category, exit_day, COUNT(*) FROM members
                WHERE status = 4 AND exit_day IS NOT NULL GROUP BY region_key, category, exit_day
                """,
            ]
        },
        // Fewer b-trees per member write (a create had touched about 33): on SQLite members
        // are kept in id order (WITHOUT ROWID: a lookup by id is one b-tree, not an id index
        // and then the table), history and changes are keyed by their sequence (the rowid),
        // tags are their key alone; on both engines history's id index goes (nothing looks an
        // entry up by id; ids are generated unique), the organisation index leaves out member
        // events (organisation_id ''), and the credit-code index leaves out NULLs.
        Migration(version: 4, name: "registry: fewer indexes per member write") { d in
            let text = d.textType
            let blob = d.blobType
            let sqlite = d == .sqlite
            let withoutRowID = sqlite ? " WITHOUT ROWID" : ""
            // SQLite makes an INTEGER PRIMARY KEY the rowid (no second b-tree).
            let sequenceKey = sqlite ? "INTEGER PRIMARY KEY" : "BIGINT PRIMARY KEY"
            var statements = rebuild(
                "members", membersTable("members_v4", d, suffix: withoutRowID),
                columns: "id, region_key, category, status, name, resident_id, credit_code, industry_code, native_key, "
                    + "contact_cadre_id, admission_day, exit_day, version, body")
            statements += [
                "CREATE INDEX members_region ON members (region_key, name, id)",
                "CREATE INDEX members_name ON members (name, id)",
                "CREATE INDEX members_native ON members (native_key)",
                "CREATE INDEX members_credit_code ON members (credit_code) WHERE credit_code IS NOT NULL",
                "CREATE UNIQUE INDEX members_resident_live ON members (resident_id) WHERE status IN (1, 2, 3)",
            ]
            statements += rebuild(
                "history",
                """
                CREATE TABLE history_v4 (
                    seq \(sequenceKey),
                    id \(text) NOT NULL,
                    member_id \(text) NOT NULL,
                    organisation_id \(text) NOT NULL,
                    event_kind INTEGER NOT NULL,
                    event_us BIGINT NOT NULL,
                    body \(blob) NOT NULL
                )
                """,
                columns: "seq, id, member_id, organisation_id, event_kind, event_us, body")
            statements += [
                "CREATE INDEX history_member ON history (member_id, seq)",
                "CREATE INDEX history_organisation ON history (organisation_id, seq) WHERE organisation_id <> ''",
            ]
            if sqlite {
                statements += rebuild(
                    "member_tags",
                    """
                    CREATE TABLE member_tags_v4 (
                        member_id \(text) NOT NULL,
                        kind INTEGER NOT NULL,
                        value \(text) NOT NULL,
                        PRIMARY KEY (member_id, kind, value)
                    ) WITHOUT ROWID
                    """,
                    columns: "member_id, kind, value")
                statements.append("CREATE INDEX member_tags_value ON member_tags (kind, value, member_id)")
                statements += rebuild(
                    "changes",
                    changesTable("changes_v4", d, sequenceKey: "INTEGER PRIMARY KEY"),
                    columns: "sequence, entity_kind, entity_id, region_key, previous_region_key, change_us, body")
            }
            return statements
        },
        // Idempotency records are kept 24 hours (common.proto); this index lets the hourly
        // prune find the oldest without scanning the table (and, time-ordered, it only appends).
        Migration(version: 5, name: "registry: idempotency records by age") { _ in
            ["CREATE INDEX idempotency_created ON idempotency (create_us)"]
        },
        // Member searches on one index: the region index carries status, the categories (as a
        // bit mask, replacing the category tag rows) and the native place, so a search by
        // region with those filters, and its COUNT, reads index entries only. The name index
        // (no query could use it: name prefixes are compared with substr) and the native-place
        // index go. A create now writes about four entries on random index pages instead of
        // seven, and each is a WAL page at commit and a page at checkpoint.
        Migration(version: 6, name: "registry: member searches on the region index") { _ in
            [
                "DROP INDEX members_name",
                "DROP INDEX members_native",
                "DROP INDEX members_region",
                "ALTER TABLE members ADD COLUMN category_mask BIGINT NOT NULL DEFAULT 0",
                """
                UPDATE members SET category_mask = COALESCE((
                    SELECT SUM(CAST(1 AS BIGINT) << CAST(t.value AS INTEGER)) FROM member_tags t
                    WHERE t.member_id = members.id AND t.kind = 1), 0)
                """,
                "DELETE FROM member_tags WHERE kind = 1",
                "CREATE INDEX members_region ON members (region_key, name, id, status, category_mask, native_key)",
            ]
        },
        // Two indexes fewer per create on SQLite, where a commit's WAL pages are most of its
        // cost. The specialty index: no query reads it (a specialty filter is an EXISTS probe
        // of member_tags' primary key for each member the region index yields, and SQLite does
        // not turn EXISTS into a join), yet each specialty of each create added an entry at the
        // end of its specialty's run: a WAL page per specialty per commit, about a quarter of a
        // commit's pages. The idempotency index by age: SQLite keeps the records in rowid
        // order, which is the order they were made in, so the prune reads the first rows
        // instead. PostgreSQL keeps both (its planner may drive a semi-join from the first;
        // its heap has no such order).
        Migration(version: 7, name: "registry: fewer indexes per create on SQLite") { d in
            d == .sqlite ? ["DROP INDEX member_tags_value", "DROP INDEX idempotency_created"] : []
        },
    ]

    /// Replaces `table` by the table `create` makes (named `table`_v4): its rows copied over in
    /// key order (`columns`, the first being the key), the old table and its indexes dropped.
    private static func rebuild(_ table: String, _ create: String, columns: String) -> [String] {
        let key = columns.prefix { $0 != "," }
        return [
            create,
            "INSERT INTO \(table)_v4 (\(columns)) SELECT \(columns) FROM \(table) ORDER BY \(key)",
            "DROP TABLE \(table)",
            "ALTER TABLE \(table)_v4 RENAME TO \(table)",
        ]
    }

    /// The change feed's table as created under `name`, keyed by `sequenceKey`.
    private static func changesTable(_ name: String, _ d: SQLDialect, sequenceKey: String) -> String {
        let text = d.textType
        return """
            CREATE TABLE \(name) (
                sequence \(sequenceKey),
                entity_kind INTEGER NOT NULL,
                entity_id \(text) NOT NULL,
                region_key \(text) NOT NULL,
                previous_region_key \(text) NOT NULL,
                change_us BIGINT NOT NULL,
                body \(d.blobType) NOT NULL
            )
            """
    }

    /// The members table as created under `name` (the columns of versions 1–5; version 6 adds
    /// `category_mask`).
    private static func membersTable(_ name: String, _ d: SQLDialect, suffix: String = "") -> String {
        let text = d.textType
        return """
            CREATE TABLE \(name) (
                id \(text) PRIMARY KEY,
                region_key \(text) NOT NULL,
                category INTEGER NOT NULL,
                status INTEGER NOT NULL,
                name \(text) NOT NULL,
                resident_id \(text),
                credit_code \(text),
                industry_code \(text) NOT NULL,
                native_key \(text) NOT NULL,
                contact_cadre_id \(text) NOT NULL,
                admission_day BIGINT,
                exit_day BIGINT,
                version BIGINT NOT NULL,
                body \(d.blobType) NOT NULL
            )\(suffix)
            """
    }
}
