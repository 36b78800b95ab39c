/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exfiltration chains: for each upload that carried a honey document's token
 * (a finding), which guest process read the document, which file it was
 * staged in (a copy or an archive) and which process uploaded it. Joins the
 * findings (capture), file-access.jsonl (fileaccess.h) and forensics.json
 * (the disk after the run). Pure analysis; report fields and the linking
 * rules in collectors/FILEACCESS.md.
 */
#ifndef AVTB_CHAIN_H
#define AVTB_CHAIN_H

#include <jansson.h>

#include "collectors/fileaccess.h"
#include "collectors/finding.h"

/* Guest clock against host clock (finding times are the capture's): a socket
 * line or a read may be this much later than the upload it explains. */
#define AVTB_CHAIN_SKEW_S 5.0
/* Guest events against each other (the agent stamps an event when it reads
 * it from the kernel; lines are nearly in order). */
#define AVTB_CHAIN_ORDER_S 1.0
/* Evidence references kept per step, processes per document. */
#define AVTB_CHAIN_MAX_EVIDENCE  5
#define AVTB_CHAIN_MAX_PROCESSES 256
/* Events one chain's search may look at; past it the best link so far stands. */
#define AVTB_CHAIN_WORK_MAX 2000000

/*
 * findings: the run's findings in report order (index = report.json
 * "findings" index); fa: the log (NULL: no file-access evidence); forensics:
 * parsed forensics.json (NULL: none); registry: parsed tokens.json
 * ({"tokens":[{"token","document",...}]}; NULL: the findings' documents
 * only). Every JSON input is borrowed and type-checked. One chain per
 * (document, uploading connection). Returns a new JSON array (NULL when out
 * of memory).
 */
json_t *avtb_chains_build(const avtb_findings *findings, const avtb_fa_log *fa, json_t *forensics,
                          json_t *registry);

/*
 * Per planted document (the registry's documents, in its order), who touched
 * it: [{"document","token","processes":[{"pid","comm","exe","cmdline",
 * "first","last","reads","writes","execs","evidence":[...]}],
 * "processes_omitted"}]. New array; NULL when out of memory. fa NULL: every
 * document with no processes.
 */
json_t *avtb_fa_document_access(const avtb_fa_log *fa, json_t *registry);

/* What an evidence directory says about files, for report.json and `avtb analyze`. */
typedef struct avtb_file_evidence {
    json_t *forensics;       /* forensics.json, or NULL when the run has none */
    json_t *document_access; /* NULL without file-access.jsonl */
    json_t *chains;          /* NULL without tokens.json */
} avtb_file_evidence;

/*
 * Reads tokens.json, forensics.json and file-access.jsonl of the evidence
 * directory dir (each may be missing) and builds the chains for findings
 * (report order). A file that exists but cannot be read is a problem: its
 * sentence goes to problems (at most nproblems, malloc'd each; *count set),
 * and the rest is still built. Fails only when out of memory.
 */
avtb_err avtb_file_evidence_load(const char *dir, const avtb_findings *findings,
                                 avtb_file_evidence *out, char **problems, size_t nproblems,
                                 size_t *count, avtb_error *err) AVTB_WUR;
void avtb_file_evidence_clear(avtb_file_evidence *fe);

#endif
