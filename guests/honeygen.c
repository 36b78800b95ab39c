/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Seeded honey document generator; see honeygen.h. The template pools are
 * here, as data: markings, organisations, people, places, titles, prose
 * and tables per kind of document, folders and file-name styles. The
 * formats themselves are written by docfmt.c.
 */
#include "guests/honeygen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/buf.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define DAY          86400

/* ---- the PRNG: splitmix64 seeds xoshiro256** ---------------------------- */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Stream n of a seed: independent of how much earlier streams drew. */
static void rng_init(rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed;

    x = splitmix64(&x) ^ (stream + 1) * UINT64_C(0xd1b54a32d192ed03);
    for (size_t i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n) (Lemire's multiply; the bias is below 2^-50 for our n). */
static size_t below(rng *r, size_t n)
{
    return (size_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

static size_t range(rng *r, size_t lo, size_t hi)
{
    return lo + below(r, hi - lo + 1);
}

/* True with probability pct/100. */
static bool chance(rng *r, unsigned pct)
{
    return below(r, 100) < pct;
}

#define PICK(r, a) ((a)[below((r), ARRAY_LEN(a))])

uint64_t avtb_honeygen_seed_from(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a, then mixed */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
    return splitmix64(&h) & AVTB_HONEYGEN_SEED_MAX;
}

/* ---- a growing string: common/buf.h -------------------------------------- */

typedef avtb_buf sb;

/* ---- the pools ----------------------------------------------------------- */

enum { UK, US };

typedef struct marking_def {
    const char *name;
    int style;        /* UK or US: the organisations, spelling and currency that go with it */
    int level;        /* 0 OFFICIAL ... 3 TOP SECRET */
    const char *abbr; /* in file names, as people abbreviate it */
} marking_def;

static const marking_def markings[] = {
    {"OFFICIAL", UK, 0, "O"},
    {"OFFICIAL-SENSITIVE", UK, 1, "OS"},
    {"OFFICIAL-SENSITIVE COMMERCIAL", UK, 1, "OS-C"},
    {"OFFICIAL-SENSITIVE PERSONAL", UK, 1, "OS-P"},
    {"SECRET", UK, 2, "S"},
    {"SECRET UK EYES ONLY", UK, 2, "S-UKEO"},
    {"TOP SECRET", UK, 3, "TS"},
    {"TOP SECRET UK EYES ONLY", UK, 3, "TS-UKEO"},
    {"CUI", US, 1, "CUI"},
    {"CONFIDENTIAL", US, 1, "C"},
    {"CONFIDENTIAL//NOFORN", US, 1, "C-NF"},
    {"SECRET//NOFORN", US, 2, "S-NF"},
    {"SECRET//REL TO USA, FVEY", US, 2, "S-REL"},
    {"TOP SECRET//NOFORN", US, 3, "TS-NF"},
    {"TOP SECRET//SI//NOFORN", US, 3, "TS-SI-NF"},
};

static const char *marking_names[ARRAY_LEN(markings) + 1];

const char *const *avtb_honeygen_markings(void)
{
    for (size_t i = 0; i < ARRAY_LEN(markings); i++)
        marking_names[i] = markings[i].name;
    return marking_names;
}

static const marking_def *find_marking(const char *m)
{
    for (size_t i = 0; m != NULL && i < ARRAY_LEN(markings); i++)
        if (strcmp(markings[i].name, m) == 0)
            return &markings[i];
    return NULL;
}

bool avtb_honeygen_marking_known(const char *m)
{
    return find_marking(m) != NULL;
}

bool avtb_honeygen_user_valid(const char *u)
{
    size_t n = strlen(u);

    return n > 0 && n <= 32 && u[0] != '.' && u[0] != '-' &&
           strspn(u, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static const char *const os_names[] = {
    [AVTB_HONEY_OS_LINUX] = "linux", [AVTB_HONEY_OS_WINDOWS] = "windows"};

const char *avtb_honey_os_name(avtb_honey_os os)
{
    return os_names[os];
}

bool avtb_honey_os_parse(const char *s, avtb_honey_os *out)
{
    for (size_t i = 0; i < ARRAY_LEN(os_names); i++)
        if (strcmp(s, os_names[i]) == 0) {
            *out = (avtb_honey_os)i;
            return true;
        }
    return false;
}

typedef struct named {
    const char *name, *abbr;
} named;

/* Mail domains are under .example: no real organisation gets a lookup or a message. */
typedef struct org_def {
    const char *name, *abbr, *domain;
} org_def;

static const org_def orgs_uk[] = {
    {"Ministry of Defence", "MOD", "mod.gov.uk.example"},
    {"Home Office", "HO", "homeoffice.gov.uk.example"},
    {"Foreign, Commonwealth & Development Office", "FCDO", "fcdo.gov.uk.example"},
    {"HM Treasury", "HMT", "hmtreasury.gov.uk.example"},
    {"Cabinet Office", "CO", "cabinetoffice.gov.uk.example"},
    {"Defence Science and Technology Laboratory", "DSTL", "dstl.gov.uk.example"},
    {"Department for Business and Trade", "DBT", "businessandtrade.gov.uk.example"},
    {"National Crime Agency", "NCA", "nca.gov.uk.example"},
    {"HM Revenue & Customs", "HMRC", "hmrc.gov.uk.example"},
    {"Department for Energy Security and Net Zero", "DESNZ", "desnz.gov.uk.example"},
};

static const org_def orgs_us[] = {
    {"Department of State", "DOS", "state.gov.example"},
    {"Department of Homeland Security", "DHS", "dhs.gov.example"},
    {"Department of Defense", "DoD", "defense.gov.example"},
    {"Department of Energy", "DOE", "energy.gov.example"},
    {"Defense Intelligence Agency", "DIA", "dia.mil.example"},
    {"Cybersecurity and Infrastructure Security Agency", "CISA", "cisa.gov.example"},
    {"Department of the Treasury", "USDT", "treasury.gov.example"},
    {"Department of Commerce", "DOC", "commerce.gov.example"},
};

static const named units_uk[] = {
    {"Cyber Security Directorate", "CSD"},
    {"Strategic Programmes", "SP"},
    {"Finance and Commercial", "FinCom"},
    {"Defence Digital", "DD"},
    {"Policy Unit", "PU"},
    {"Security Operations Centre", "SOC"},
    {"Estates Directorate", "Estates"},
    {"Joint Analysis Group", "JAG"},
    {"Counter-Terrorism Policy", "CTP"},
    {"Information Management", "IM"},
};

static const named units_us[] = {
    {"Office of Cybersecurity", "OCS"},
    {"Office of Strategic Programs", "OSP"},
    {"Office of the Chief Financial Officer", "OCFO"},
    {"Security Operations Center", "SOC"},
    {"Office of Policy", "OP"},
    {"Joint Analysis Cell", "JAC"},
    {"Office of Facilities", "OF"},
    {"Counterintelligence Division", "CID"},
};

static const named committees[] = {
    {"Cyber Security Working Group", "CSWG"},  {"Programme Board", "PB"},
    {"Information Assurance Board", "IAB"},    {"Capability Review Board", "CRB"},
    {"Investment Approvals Committee", "IAC"}, {"Security Steering Group", "SSG"},
    {"Risk and Audit Committee", "RAC"},
};

static const char *const ministers_uk[] = {
    "Secretary of State",  "Minister for the Armed Forces",
    "Permanent Secretary", "National Security Adviser",
    "Director General",    "Chief Operating Officer",
};

static const char *const ministers_us[] = {
    "Deputy Secretary", "Under Secretary", "Assistant Secretary", "Director", "Chief of Staff",
};

static const char *const first_names[] = {
    "James",   "Sarah",     "David",    "Emma",   "Michael", "Rachel",   "Andrew", "Helen",
    "Richard", "Claire",    "Thomas",   "Laura",  "Mark",    "Joanne",   "Peter",  "Nicola",
    "Daniel",  "Catherine", "Paul",     "Fiona",  "Stephen", "Amanda",   "Robert", "Priya",
    "Simon",   "Hannah",    "Jonathan", "Louise", "Matthew", "Olivia",   "Graham", "Aisha",
    "Kevin",   "Megan",     "Gareth",   "Sophie", "Brian",   "Jennifer", "Carlos", "Mei",
};

static const char *const last_names[] = {
    "Smith",    "Jones",   "Taylor",   "Brown",   "Williams", "Wilson",   "Johnson", "Davies",
    "Robinson", "Wright",  "Thompson", "Evans",   "Walker",   "White",    "Roberts", "Green",
    "Hall",     "Wood",    "Jackson",  "Clarke",  "Patel",    "Hughes",   "Edwards", "Turner",
    "Miller",   "Collins", "Murphy",   "Bennett", "Khan",     "Harrison", "Morgan",  "Reid",
    "Fletcher", "Stewart", "Garcia",   "Nguyen",  "Campbell", "Ellis",    "Shaw",    "Lloyd",
};

/* Fictional states, as exercise scenarios use: no real country is accused of anything. */
static const char *const countries[] = {
    "Ruritania", "Carpathia", "Novistrana", "Kasnia", "Vardania", "Borduria", "Syldavia", "Orsinia",
};

static const char *const code_adj[] = {
    "GRANITE", "SILVER", "NORTHERN", "COPPER", "QUIET",  "BRASS",
    "AMBER",   "WINTER", "IRON",     "PALE",   "COBALT", "HOLLOW",
};

static const char *const code_noun[] = {
    "HARBOUR", "KESTREL", "LANTERN", "MERIDIAN", "ORCHARD", "FALCON",
    "TIDEWAY", "CANTOR",  "LATTICE", "SEXTANT",  "BEACON",  "TRELLIS",
};

static const char *const suppliers_uk[] = {
    "Hawthorne Systems Ltd",       "Northgate Secure Solutions", "Albion Data Services",
    "Meridian Defence Technology", "Tellurium Networks plc",     "Castlebridge Consulting",
    "Kestrel Integration Ltd",
};

static const char *const suppliers_us[] = {
    "Bluewater Federal Solutions LLC", "Ironridge Analytics Inc.", "Cedar Point Systems",
    "Summit Mission Technologies",     "Patriot Data Partners",    "Lakeshore Secure Networks",
};

static const char *const sites_uk[] = {
    "Corsham", "Gloucester", "Farnborough", "Portsmouth", "Edinburgh",
    "Leeds",   "Manchester", "Warrington",  "Croydon",    "Bristol",
};

static const char *const sites_us[] = {
    "Arlington", "Norfolk", "Colorado Springs", "San Antonio", "Huntsville",
    "Tampa",     "Dayton",  "Denver",           "Omaha",       "Columbus",
};

static const char *const systems[] = {
    "secure messaging gateway", "HR case management system",   "classified WAN",
    "cross-domain solution",    "records management platform", "mobile device estate",
    "payroll service",          "analysis workstation fleet",  "identity and access service",
};

static const char *const month_names[] = {"January",   "February", "March",    "April",
                                          "May",       "June",     "July",     "August",
                                          "September", "October",  "November", "December"};

/* ---- kinds of document --------------------------------------------------- */

typedef enum { T_NONE, T_STAFF, T_BUDGET, T_SITES, T_SUPPLIERS, T_INCIDENTS } table_kind;

typedef struct kind_def {
    int min_level, max_level;
    table_kind table;
    const char *area, *sub; /* share folder */
    const char *titles[3];  /* slot templates; NULL-terminated */
    const char *short_name; /* the file name's words */
    const char *paras[8];   /* NULL-terminated */
} kind_def;

/* Paragraphs that fit any kind of document. */
static const char *const generic_paras[] = {
    "This paper sets out the position as at {date} and asks the {committee} to note the "
    "risks described below.",
    "{person} ({unit}) has confirmed that the figures in this note reconcile with the {fy} "
    "forecast held by finance.",
    "The {system} remains the largest single source of risk; a remediation plan is due within "
    "{weeks} weeks.",
    "Comments should be returned to {author} by the end of {month}. Nil returns are requested.",
    "Distribution of this document is limited to the named addressees. Further copies must not "
    "be made without the originator's consent.",
    "Subject to the views of the {minister}, the intention is to proceed on the basis set out "
    "above.",
    "The {abbr} lead for this work is {person}, supported by a small team drawn from {unit}.",
    "Costs to date stand at {amount} against an approved budget of {amount2}.",
    "Staff at {site} have been briefed and are content with the handling arrangements.",
    "A further update will be provided to the {committee} in {quarter} {year}.",
};

static const kind_def kinds[] = {
    {0,
     2,
     T_NONE,
     "Governance",
     "Minutes",
     {"Minutes of the {committee} meeting, {date}", "{committee}: record of meeting", NULL},
     "Minutes {committee_abbr}",
     {"Present: {author} (Chair), {person}, {person}, {person}, {recipient} (Secretariat). "
      "Apologies: {person}.",
      "Item 1. The minutes of the previous meeting were agreed without amendment. The action on "
      "the {system} remains open.",
      "Item 2. {person} updated the group on progress against {project}. {num} of the "
      "milestones due this quarter have been met.",
      "Item 3. The group discussed the audit findings on the {system}. The Chair asked {unit} to "
      "return with costed options by the end of {month}.",
      "Item 4. Any other business: the next meeting will be held in {site} on a date to be "
      "confirmed.",
      "Action: {person} to circulate the revised risk register to members before the next "
      "meeting.",
      NULL}},
    {1,
     3,
     T_NONE,
     "Policy",
     "Submissions",
     {"Submission to the {minister}: {project}", "{project}: request from {country}", NULL},
     "Submission {project}",
     {"Issue: how to respond to the request from {country} for access to {project} material.",
      "Recommendation: that the {minister} agrees option B, limited disclosure, subject to the "
      "conditions at Annex A.",
      "Timing: routine, but a decision is needed by {date2} to meet the {country} deadline.",
      "Background: {project} was established in {year} to improve our understanding of "
      "{country} capabilities against the {system}.",
      "Handling: the {abbr} press office has not been consulted given the classification of "
      "this submission.",
      "Risks: disclosure beyond the agreed distribution would damage our relationship with "
      "{country} and put sources at risk.",
      NULL}},
    {2,
     3,
     T_NONE,
     "Intelligence",
     "Assessments",
     {"{country}: assessment of activity against the {system}", "Assessment: {project}", NULL},
     "Assessment {country}",
     {"Key judgement 1: {country} state actors almost certainly retain access to networks "
      "connected to the {system}.",
      "Key judgement 2: it is likely that the activity observed at {site} is linked to {project} "
      "reporting.",
      "We assess with moderate confidence that {country} intends to expand this activity over "
      "the next {num} months.",
      "This assessment draws on reporting received up to {date} and has been agreed with "
      "partners in {unit}.",
      "Intelligence gaps: we have limited insight into the decision-making of the {country} "
      "leadership on this issue.",
      "Reporting from sensitive sources must not be actioned without reference to {author}.",
      NULL}},
    {1,
     2,
     T_NONE,
     "Commercial",
     "Options",
     {"Options for the future of the {system}", "{supplier}: contract options paper", NULL},
     "Options paper {system_abbr}",
     {"Option A: do nothing. This carries the highest residual risk and is not recommended.",
      "Option B: extend the current contract with {supplier} for {num} months at an estimated "
      "cost of {amount}.",
      "Option C: open competition. {unit} estimates this would take {weeks} weeks and cost "
      "{amount2}.",
      "Assessment: option B offers the best value for money but increases our dependence on "
      "{supplier}.",
      "Commercial colleagues advise that any extension must be notified to {abbr} finance by "
      "{date2}.",
      NULL}},
    {2,
     3,
     T_NONE,
     "Operations",
     "Plans",
     {"Operation {project}: concept of operations", "{project}: outline plan", NULL},
     "{project} CONOPS",
     {"Mission: to deliver {project} in support of {country} stabilisation objectives by "
      "{quarter} {year}.",
      "Concept of operations: phase 1 will be conducted from {site}; phase 2 depends on "
      "host-nation consent.",
      "Force elements: {num} personnel drawn from {unit}, with specialist support from "
      "{supplier}.",
      "Communications: all traffic concerning {project} is to be passed over the {system} only.",
      "Security: knowledge of {project} is restricted to those on the indoctrination list held "
      "by {author}.",
      NULL}},
    {0,
     3,
     T_STAFF,
     "HR",
     "Nominal rolls",
     {"Nominal roll: {unit}", "Staff list, {unit}, {month} {year}", NULL},
     "Nominal roll {unit_abbr}",
     {"The table below lists the staff of {unit} as at {date}, with their clearance status.",
      "Changes should be notified to {author} so that building passes and accounts can be "
      "updated.",
      NULL}},
    {0,
     2,
     T_BUDGET,
     "Finance",
     "Budgets",
     {"Budget forecast {fy}: {unit}", "{unit} financial position, {quarter} {fy}", NULL},
     "Budget forecast {fy}",
     {"The forecast below reflects spend to the end of {month} and the agreed savings target.",
      "Variances above 5% are explained in the notes and have been discussed with {person}.",
      NULL}},
    {1,
     3,
     T_SITES,
     "Estates",
     "Sites",
     {"{project}: site list", "Locations supporting {project}", NULL},
     "{project} site list",
     {"The following sites support {project}. Their association with the programme is itself "
      "protectively marked.",
      "Contact details must not be shared outside the {unit} distribution.", NULL}},
    {1,
     2,
     T_SUPPLIERS,
     "Commercial",
     "Contracts",
     {"Contract register {fy}", "Supplier assurance status: {unit}", NULL},
     "Contract register {fy}",
     {"The register below covers contracts managed by {unit} with a value above the "
      "delegation threshold.",
      "Suppliers without current assurance have been asked to provide evidence by {date2}.", NULL}},
    {1,
     2,
     T_INCIDENTS,
     "Security",
     "Incidents",
     {"Security incident log {quarter} {year}", "{unit}: security incidents reported", NULL},
     "Incident log {quarter} {year}",
     {"The log below records security incidents reported in {quarter} {year}.",
      "Incidents rated High have been reported to the {abbr} security controller.", NULL}},
};

/* Sentences that carry the body token, as a registry or file reference would. */
static const char *const token_sentences[] = {
    "Please quote reference {T} in any reply.",
    "This document is registered under file reference {T}.",
    "Registry number: {T}.",
    "Handling code {T} applies; do not forward outside the distribution list.",
    "Tracking number {T} applies to all related correspondence.",
};

/* CDN-like parents for beacon hosts: the host's first label is the token. */
static const char *const beacon_domains[] = {
    "cdn.intranet-assets.example", "img.docstore-cdn.example",
    "static.officeshare.example",  "media.govcloud-static.example",
    "assets.briefing-cdn.example", "content.secure-intranet.example",
};

static const char *const beacon_image_paths[] = {
    "/assets/img/crest.png", "/static/logo-header.png", "/images/banner.gif",
    "/media/signature.png",  "/img/footer-logo.png",
};

static const char *const beacon_link_paths[] = {
    "/sites/finance/dashboard",
    "/reports/latest",
    "/docs/annex-a",
    "/portal/team/summary",
};

/* ---- the document being made --------------------------------------------- */

typedef struct doc_ctx {
    rng r;
    const marking_def *mk;
    const kind_def *kind;
    const org_def *org;
    const named *unit, *committee;
    const char *minister, *country, *supplier, *site, *system;
    char project[40];
    char author[48], recipient[48];
    char *title;            /* owned */
    int64_t created, later; /* later: a second date in the text, after created */
    struct tm tm;           /* created, UTC */
    char reference[48];
} doc_ctx;

static int64_t weekday_time(rng *r, int64_t day)
{
    int64_t wd = (day + 4) % 7; /* 1970-01-01 was a Thursday; 0 is Sunday */

    if (wd == 6)
        day -= 1;
    else if (wd == 0)
        day -= 2;
    return day * DAY + (int64_t)range(r, 8, 17) * 3600 + (int64_t)below(r, 3600);
}

static void fmt_date(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    snprintf(buf, len, "%d %s %d", tm.tm_mday, month_names[tm.tm_mon], tm.tm_year + 1900);
}

static void fmt_fy(const doc_ctx *c, char *buf, size_t len)
{
    int y = c->tm.tm_year + 1900;

    if (c->mk->style == UK) { /* April to March */
        if (c->tm.tm_mon < 3)
            y--;
        snprintf(buf, len, "%d-%02d", y, (y + 1) % 100);
    } else { /* October to September */
        snprintf(buf, len, "FY%d", c->tm.tm_mon >= 9 ? y + 1 : y);
    }
}

static void fmt_amount(doc_ctx *c, char *buf, size_t len)
{
    unsigned whole = (unsigned)range(&c->r, 1, 48), tenth = (unsigned)below(&c->r, 10);

    if (c->mk->style == UK)
        snprintf(buf, len, "\xc2\xa3%u.%um", whole, tenth);
    else
        snprintf(buf, len, "$%u.%uM", whole, tenth);
}

static void person(rng *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s %s", PICK(r, first_names), PICK(r, last_names));
}

/* Expands {slot}s of a template; tok replaces {T}. Unknown slots stay as written. */
static void expand(doc_ctx *c, sb *b, const char *tmpl, const char *tok)
{
    for (const char *p = tmpl; *p;) {
        const char *open = strchr(p, '{'), *close;
        char slot[24], v[96];

        if (open == NULL || (close = strchr(open, '}')) == NULL ||
            (size_t)(close - open - 1) >= sizeof(slot)) {
            avtb_buf_str(b, p);
            return;
        }
        avtb_buf_add(b, p, (size_t)(open - p));
        memcpy(slot, open + 1, (size_t)(close - open - 1));
        slot[close - open - 1] = '\0';
        p = close + 1;
        v[0] = '\0';
        if (strcmp(slot, "T") == 0 && tok != NULL)
            snprintf(v, sizeof(v), "%s", tok);
        else if (strcmp(slot, "org") == 0)
            snprintf(v, sizeof(v), "%s", c->org->name);
        else if (strcmp(slot, "abbr") == 0)
            snprintf(v, sizeof(v), "%s", c->org->abbr);
        else if (strcmp(slot, "unit") == 0)
            snprintf(v, sizeof(v), "%s", c->unit->name);
        else if (strcmp(slot, "unit_abbr") == 0)
            snprintf(v, sizeof(v), "%s", c->unit->abbr);
        else if (strcmp(slot, "committee") == 0)
            snprintf(v, sizeof(v), "%s", c->committee->name);
        else if (strcmp(slot, "committee_abbr") == 0)
            snprintf(v, sizeof(v), "%s", c->committee->abbr);
        else if (strcmp(slot, "author") == 0)
            snprintf(v, sizeof(v), "%s", c->author);
        else if (strcmp(slot, "recipient") == 0)
            snprintf(v, sizeof(v), "%s", c->recipient);
        else if (strcmp(slot, "person") == 0)
            person(&c->r, v, sizeof(v));
        else if (strcmp(slot, "project") == 0)
            snprintf(v, sizeof(v), "%s", c->project);
        else if (strcmp(slot, "country") == 0)
            snprintf(v, sizeof(v), "%s", c->country);
        else if (strcmp(slot, "supplier") == 0)
            snprintf(v, sizeof(v), "%s", c->supplier);
        else if (strcmp(slot, "site") == 0)
            snprintf(v, sizeof(v), "%s", c->site);
        else if (strcmp(slot, "system") == 0)
            snprintf(v, sizeof(v), "%s", c->system);
        else if (strcmp(slot, "system_abbr") == 0) {
            /* "secure messaging gateway" -> "SMG" */
            size_t n = 0;

            for (const char *s = c->system; *s && n + 1 < sizeof(v); s++)
                if (s == c->system || s[-1] == ' ')
                    v[n++] = (char)(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s);
            v[n] = '\0';
        } else if (strcmp(slot, "minister") == 0)
            snprintf(v, sizeof(v), "%s", c->minister);
        else if (strcmp(slot, "date") == 0)
            fmt_date(c->created, v, sizeof(v));
        else if (strcmp(slot, "date2") == 0)
            fmt_date(c->later, v, sizeof(v));
        else if (strcmp(slot, "fy") == 0)
            fmt_fy(c, v, sizeof(v));
        else if (strcmp(slot, "year") == 0)
            snprintf(v, sizeof(v), "%d", c->tm.tm_year + 1900);
        else if (strcmp(slot, "month") == 0)
            snprintf(v, sizeof(v), "%s", month_names[c->tm.tm_mon]);
        else if (strcmp(slot, "quarter") == 0)
            snprintf(v, sizeof(v), "Q%d", c->tm.tm_mon / 3 + 1);
        else if (strcmp(slot, "amount") == 0 || strcmp(slot, "amount2") == 0)
            fmt_amount(c, v, sizeof(v));
        else if (strcmp(slot, "num") == 0)
            snprintf(v, sizeof(v), "%zu", range(&c->r, 3, 18));
        else if (strcmp(slot, "weeks") == 0)
            snprintf(v, sizeof(v), "%zu", range(&c->r, 2, 12));
        else
            snprintf(v, sizeof(v), "{%s}", slot);
        avtb_buf_str(b, v);
    }
}

static char *expand_dup(doc_ctx *c, const char *tmpl, const char *tok)
{
    sb b = {0};

    expand(c, &b, tmpl, tok);
    return avtb_buf_take(&b);
}

static bool kind_fits(const kind_def *k, int level, avtb_doc_format f)
{
    bool tabular = f == AVTB_FMT_CSV || f == AVTB_FMT_XLSX;

    if (level < k->min_level || level > k->max_level)
        return false;
    if (tabular)
        return k->table != T_NONE;
    /* A wide table in plain text reads badly; docx, pdf and e-mail lay tables out. */
    return f != AVTB_FMT_TXT || k->table == T_NONE;
}

/* Draws everything a document's text refers to. */
static void ctx_init(doc_ctx *c, const marking_def *mk, avtb_doc_format f, int64_t now)
{
    const kind_def *fit[ARRAY_LEN(kinds)];
    size_t nfit = 0;
    int64_t day;
    time_t tt;

    c->mk = mk;
    for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
        if (kind_fits(&kinds[i], mk->level, f))
            fit[nfit++] = &kinds[i];
    c->kind = fit[below(&c->r, nfit)];
    if (mk->style == UK) {
        c->org = &PICK(&c->r, orgs_uk);
        c->unit = &PICK(&c->r, units_uk);
        c->minister = PICK(&c->r, ministers_uk);
        c->supplier = PICK(&c->r, suppliers_uk);
        c->site = PICK(&c->r, sites_uk);
    } else {
        c->org = &PICK(&c->r, orgs_us);
        c->unit = &PICK(&c->r, units_us);
        c->minister = PICK(&c->r, ministers_us);
        c->supplier = PICK(&c->r, suppliers_us);
        c->site = PICK(&c->r, sites_us);
    }
    c->committee = &PICK(&c->r, committees);
    c->country = PICK(&c->r, countries);
    c->system = PICK(&c->r, systems);
    snprintf(c->project, sizeof(c->project), "%s %s", PICK(&c->r, code_adj),
             PICK(&c->r, code_noun));
    person(&c->r, c->author, sizeof(c->author));
    do
        person(&c->r, c->recipient, sizeof(c->recipient));
    while (strcmp(c->author, c->recipient) == 0);
    /* Two weeks to two years old, written on a working day. */
    day = now / DAY - (int64_t)range(&c->r, 14, 730);
    c->created = weekday_time(&c->r, day);
    if (c->created > now - 3600)
        c->created = now - 3600;
    c->later = c->created + (int64_t)range(&c->r, 7, 60) * DAY;
    tt = (time_t)c->created;
    gmtime_r(&tt, &c->tm);
    if (mk->style == UK)
        snprintf(c->reference, sizeof(c->reference), "%s/%s/%d/%04zu", c->org->abbr, c->unit->abbr,
                 c->tm.tm_year + 1900, range(&c->r, 1, 9999));
    else
        snprintf(c->reference, sizeof(c->reference), "%s-%d-%05zu", c->org->abbr,
                 c->tm.tm_year + 1900, range(&c->r, 1, 99999));
    /* NULL when memory ran out; the caller checks. */
    c->title = expand_dup(c, c->kind->titles[below(&c->r, c->kind->titles[1] ? 2 : 1)], NULL);
}

/* ---- tables -------------------------------------------------------------- */

typedef struct table {
    char **cells; /* nrows * ncols, owned */
    size_t nrows, ncols;
    size_t token_row; /* the data row whose last cell is the body token */
} table;

static void table_free(table *t)
{
    for (size_t i = 0; t->cells != NULL && i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

static const char *const staff_header[] = {"Name",     "Role",      "Grade",    "Clearance",
                                           "Location", "Extension", "Reference"};
static const char *const budget_header[] = {"Cost centre", "Line item", "Budget",   "Forecast",
                                            "Variance",    "Owner",     "Reference"};
static const char *const sites_header[] = {"Site",  "Function", "Security level",
                                           "Staff", "Contact",  "Reference"};
static const char *const suppliers_header[] = {"Supplier",  "Contract", "Value",    "Expiry",
                                               "Assurance", "Owner",    "Reference"};
static const char *const incidents_header[] = {"Date",     "System", "Summary",
                                               "Severity", "Owner",  "Reference"};

static const char *const roles[] = {"Analyst",          "Senior Analyst",   "Team Leader",
                                    "Project Manager",  "Security Officer", "Policy Adviser",
                                    "Systems Engineer", "Head of Unit",     "Administrator"};
static const char *const grades_uk[] = {"AO", "EO", "HEO", "SEO", "G7", "G6", "SCS1"};
static const char *const grades_us[] = {"GS-9", "GS-11", "GS-12", "GS-13", "GS-14", "GS-15"};
static const char *const clear_uk[] = {"BPSS", "CTC", "SC", "SC", "DV"};
static const char *const clear_us[] = {"Public Trust", "Secret", "Top Secret", "TS/SCI"};
static const char *const budget_lines[] = {
    "Staff costs", "Contractors", "IT hardware",      "Software licences", "Travel",
    "Training",    "Consultancy", "Security vetting", "Facilities",        "Accommodation"};
static const char *const site_functions[] = {
    "Operations centre", "Data centre",  "Training facility",   "Liaison office",
    "Storage",           "Headquarters", "Forward support base"};
static const char *const site_levels[] = {"Controlled", "Secure area", "Secure area (Class 1)",
                                          "Restricted"};
static const char *const assurance_uk[] = {"Cyber Essentials Plus", "ISO 27001", "List X",
                                           "Pending review", "Not assured"};
static const char *const assurance_us[] = {"FedRAMP Moderate", "CMMC Level 2", "ISO 27001",
                                           "Pending review"};
static const char *const incident_summaries[] = {
    "Laptop reported lost in transit",      "Phishing link clicked; credentials reset",
    "Unauthorised USB device detected",     "E-mail misdirected to external recipient",
    "Tailgating at main entrance",          "Protectively marked papers left unsecured",
    "Malware alert on analyst workstation", "Suspicious approach via social media",
};
static const char *const severities[] = {"Low", "Low", "Medium", "High"};

/* A data row's cells except the reference; row is a 1-based data row number. */
static void table_row(doc_ctx *c, table_kind k, char **cells)
{
    char buf[96];
    bool uk = c->mk->style == UK;
    size_t n = 0;

#define CELL(...)                                                                                  \
    do {                                                                                           \
        snprintf(buf, sizeof(buf), __VA_ARGS__);                                                   \
        cells[n++] = strdup(buf);                                                                  \
    } while (0)
    switch (k) {
    case T_STAFF:
        person(&c->r, buf, sizeof(buf));
        cells[n++] = strdup(buf);
        CELL("%s", PICK(&c->r, roles));
        CELL("%s", uk ? PICK(&c->r, grades_uk) : PICK(&c->r, grades_us));
        CELL("%s", uk ? PICK(&c->r, clear_uk) : PICK(&c->r, clear_us));
        CELL("%s", uk ? PICK(&c->r, sites_uk) : PICK(&c->r, sites_us));
        CELL("%zu", range(&c->r, 2000, 8999));
        break;
    case T_BUDGET: {
        long budget = (long)range(&c->r, 20, 4000), forecast;

        forecast = budget + (long)range(&c->r, 0, (size_t)budget / 5) - budget / 10;
        CELL("%s%zu", c->unit->abbr, range(&c->r, 100, 999));
        CELL("%s", PICK(&c->r, budget_lines));
        CELL("%s%ldk", uk ? "\xc2\xa3" : "$", budget);
        CELL("%s%ldk", uk ? "\xc2\xa3" : "$", forecast);
        CELL("%+ldk", forecast - budget);
        person(&c->r, buf, sizeof(buf));
        cells[n++] = strdup(buf);
        break;
    }
    case T_SITES:
        CELL("%s", uk ? PICK(&c->r, sites_uk) : PICK(&c->r, sites_us));
        CELL("%s", PICK(&c->r, site_functions));
        CELL("%s", PICK(&c->r, site_levels));
        CELL("%zu", range(&c->r, 4, 250));
        person(&c->r, buf, sizeof(buf));
        cells[n++] = strdup(buf);
        break;
    case T_SUPPLIERS:
        CELL("%s", uk ? PICK(&c->r, suppliers_uk) : PICK(&c->r, suppliers_us));
        CELL("%s-%zu", c->org->abbr, range(&c->r, 1000, 9999));
        CELL("%s%zuk", uk ? "\xc2\xa3" : "$", range(&c->r, 50, 9000));
        CELL("%02zu/%d", range(&c->r, 1, 12), c->tm.tm_year + 1900 + (int)range(&c->r, 0, 3));
        CELL("%s", uk ? PICK(&c->r, assurance_uk) : PICK(&c->r, assurance_us));
        person(&c->r, buf, sizeof(buf));
        cells[n++] = strdup(buf);
        break;
    case T_INCIDENTS:
        fmt_date(c->created - (int64_t)range(&c->r, 1, 80) * DAY, buf, sizeof(buf));
        cells[n++] = strdup(buf);
        CELL("%s", PICK(&c->r, systems));
        CELL("%s", PICK(&c->r, incident_summaries));
        CELL("%s", PICK(&c->r, severities));
        person(&c->r, buf, sizeof(buf));
        cells[n++] = strdup(buf);
        break;
    case T_NONE:
        break;
    }
#undef CELL
}

static avtb_err make_table(doc_ctx *c, const char *tok, table *t, avtb_error *err)
{
    const char *const *header = NULL;
    size_t ncols = 0;

    switch (c->kind->table) {
    case T_STAFF:
        header = staff_header, ncols = ARRAY_LEN(staff_header);
        break;
    case T_BUDGET:
        header = budget_header, ncols = ARRAY_LEN(budget_header);
        break;
    case T_SITES:
        header = sites_header, ncols = ARRAY_LEN(sites_header);
        break;
    case T_SUPPLIERS:
        header = suppliers_header, ncols = ARRAY_LEN(suppliers_header);
        break;
    case T_INCIDENTS:
        header = incidents_header, ncols = ARRAY_LEN(incidents_header);
        break;
    case T_NONE:
        return AVTB_OK;
    }
    t->ncols = ncols;
    t->nrows = 1 + range(&c->r, 8, 16);
    t->token_row = range(&c->r, 1, t->nrows - 1);
    t->cells = calloc(t->nrows * ncols, sizeof(*t->cells));
    if (t->cells == NULL)
        goto nomem;
    for (size_t j = 0; j < ncols; j++)
        if ((t->cells[j] = strdup(header[j])) == NULL)
            goto nomem;
    for (size_t i = 1; i < t->nrows; i++) {
        char **row = &t->cells[i * ncols], ref[48];

        table_row(c, c->kind->table, row);
        if (i == t->token_row)
            snprintf(ref, sizeof(ref), "%s", tok);
        else if (c->mk->style == UK)
            snprintf(ref, sizeof(ref), "%s/%02d/%04zu", c->org->abbr, c->tm.tm_year % 100,
                     range(&c->r, 1, 9999));
        else
            snprintf(ref, sizeof(ref), "%s-%05zu", c->org->abbr, range(&c->r, 1, 99999));
        row[ncols - 1] = strdup(ref);
        for (size_t j = 0; j < ncols; j++)
            if (row[j] == NULL)
                goto nomem;
    }
    return AVTB_OK;
nomem:
    table_free(t);
    return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
}

/* ---- the generator ------------------------------------------------------- */

struct avtb_honeygen {
    uint64_t seed;
    int64_t now;
    avtb_honeygen_token_fn token;
    void *token_ctx;
    uint64_t count; /* documents made: the next one's stream */
    char **paths;   /* taken guest paths, owned */
    size_t npaths;
};

static avtb_err default_token(void *ctx, char out[AVTB_TOKEN_LEN + 1], avtb_error *err)
{
    (void)ctx;
    return avtb_token_new(out, err);
}

avtb_err avtb_honeygen_new(const avtb_honeygen_conf *conf, avtb_honeygen **out, avtb_error *err)
{
    avtb_honeygen *g;

    *out = NULL;
    if (conf->seed > AVTB_HONEYGEN_SEED_MAX)
        return avtb_error_set(err, AVTB_ERR_USAGE, "seed %llu is larger than %llu",
                              (unsigned long long)conf->seed,
                              (unsigned long long)AVTB_HONEYGEN_SEED_MAX);
    g = calloc(1, sizeof(*g));
    if (g == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    g->seed = conf->seed;
    g->now = conf->now > 0 ? conf->now : (int64_t)time(NULL);
    g->token = conf->token ? conf->token : default_token;
    g->token_ctx = conf->token_ctx;
    *out = g;
    return AVTB_OK;
}

void avtb_honeygen_free(avtb_honeygen *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->npaths; i++)
        free(g->paths[i]);
    free(g->paths);
    free(g);
}

static const char *base_of(const char *path)
{
    const char *s = strrchr(path, '/');

    return s ? s + 1 : path;
}

/* A path is free if neither it nor its file name (any case) is taken. */
static bool path_free(const avtb_honeygen *g, const char *path)
{
    for (size_t i = 0; i < g->npaths; i++)
        if (strcmp(g->paths[i], path) == 0 || strcasecmp(base_of(g->paths[i]), base_of(path)) == 0)
            return false;
    return true;
}

avtb_err avtb_honeygen_reserve(avtb_honeygen *g, const char *path, avtb_error *err)
{
    char **p = reallocarray(g->paths, g->npaths + 1, sizeof(*p));

    if (p == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    g->paths = p;
    if ((g->paths[g->npaths] = strdup(path)) == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    g->npaths++;
    return AVTB_OK;
}

/* Words for a file name: letters, digits, spaces, '-', '.', '(' and ')'. */
static void clean_words(const char *in, char *out, size_t len)
{
    size_t n = 0;

    for (const char *p = in; *p && n + 4 < len; p++) {
        unsigned char ch = (unsigned char)*p;

        if (ch == '&') {
            memcpy(out + n, "and", 3);
            n += 3;
        } else if (ch == '/') {
            out[n++] = '-';
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || strchr(" -.()", ch) != NULL) {
            out[n++] = (char)ch;
        }
    }
    out[n] = '\0';
}

/* The file name (without extension) in one of the ways people name files. */
static void file_stem(doc_ctx *c, avtb_honey_os os, avtb_doc_format f, char *out, size_t len)
{
    char words[128], tmp[320], *w;
    int y = c->tm.tm_year + 1900, mo = c->tm.tm_mon + 1, d = c->tm.tm_mday;
    unsigned style = (unsigned)below(&c->r, 5);

    if (f == AVTB_FMT_EML) {
        /* A saved message is named after its subject, as mail clients do. */
        unsigned reply = (unsigned)below(&c->r, 10);

        clean_words(c->title, words, sizeof(words));
        snprintf(out, len, "%s%.120s", reply < 3 ? "RE_ " : reply < 4 ? "FW_ " : "", words);
        return;
    }
    w = expand_dup(c, c->kind->short_name, NULL);
    clean_words(w ? w : "Document", words, sizeof(words));
    free(w);
    if (os == AVTB_HONEY_OS_WINDOWS && style == 2)
        style = 1; /* lower-case-with-hyphens is a Unix habit */
    switch (style) {
    case 0:
        snprintf(tmp, sizeof(tmp), "%04d%02d%02d_%s_v%zu.%zu", y, mo, d, words, range(&c->r, 0, 3),
                 range(&c->r, 1, 9));
        for (char *p = tmp; *p; p++)
            if (*p == ' ')
                *p = '_';
        break;
    case 1:
        snprintf(tmp, sizeof(tmp), "%s v%zu.%zu", words, range(&c->r, 0, 3), range(&c->r, 1, 9));
        break;
    case 2:
        snprintf(tmp, sizeof(tmp), "%s-%04d-%02d-%02d", words, y, mo, d);
        for (char *p = tmp; *p; p++)
            if (*p == ' ')
                *p = '-';
            else if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        break;
    case 3:
        snprintf(tmp, sizeof(tmp), "%s (%s) %s", words, c->mk->abbr,
                 chance(&c->r, 50) ? "DRAFT" : "FINAL");
        break;
    default: {
        char ref[64];

        clean_words(c->reference, ref, sizeof(ref));
        snprintf(tmp, sizeof(tmp), "%s %s", ref, words);
        break;
    }
    }
    snprintf(out, len, "%.150s", tmp); /* file names stay short */
}

/* Folder, owner and mode of a document, as a person's files would be spread. */
typedef struct placement {
    char dir[256];
    unsigned uid, gid, mode;
} placement;

static void place_doc(doc_ctx *c, const avtb_honeygen_req *req, placement *pl)
{
    static const unsigned home_modes[] = {0600, 0640, 0644, 0644, 0664};
    bool win = req->os == AVTB_HONEY_OS_WINDOWS;
    const char *user = req->user ? req->user : "analyst";
    char home[160], folder[64];
    bool mail = req->format == AVTB_FMT_EML,
         archive = req->format == AVTB_FMT_ZIP || req->format == AVTB_FMT_7Z;
    unsigned where = (unsigned)below(&c->r, 100);

    if (req->home != NULL)
        snprintf(home, sizeof(home), "%s", req->home);
    else
        snprintf(home, sizeof(home), "%s/%s", win ? "/Users" : "/home", user);
    /* Windows: NTFS keeps ownership in ACLs, so uid/gid/mode stay neutral. */
    pl->uid = win ? 0 : req->uid;
    pl->gid = win ? 0 : req->gid;
    pl->mode = win ? 0644 : home_modes[below(&c->r, ARRAY_LEN(home_modes))];
    /* Title-case project folder: "GRANITE HARBOUR" -> "Granite Harbour". */
    snprintf(folder, sizeof(folder), "%s", c->project);
    for (char *p = folder + 1; *p; p++)
        if (p[-1] != ' ' && *p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (mail) {
        snprintf(pl->dir, sizeof(pl->dir), "%s/%s", home,
                 where < 50   ? "Documents/Correspondence"
                 : where < 80 ? "Downloads"
                              : "Desktop");
    } else if (archive) {
        snprintf(pl->dir, sizeof(pl->dir), "%s/%s", home,
                 where < 60 ? "Downloads" : "Documents/Archive");
    } else if (where < 35) {
        /* A share-like tree: the organisation's area folders. */
        snprintf(pl->dir, sizeof(pl->dir), "%s/%s/%s/%d", win ? "/Shares" : "/srv/share",
                 c->kind->area, c->kind->sub, c->tm.tm_year + 1900);
        if (!win && chance(&c->r, 40))
            pl->uid = pl->gid = 0, pl->mode = 0644;
        else if (!win)
            pl->mode = 0664;
    } else if (where < 55) {
        snprintf(pl->dir, sizeof(pl->dir), "%s/Documents/%s", home, folder);
    } else if (where < 70) {
        snprintf(pl->dir, sizeof(pl->dir), "%s/Documents/%s", home, c->kind->area);
    } else if (where < 85) {
        snprintf(pl->dir, sizeof(pl->dir), "%s/Documents", home);
    } else {
        snprintf(pl->dir, sizeof(pl->dir), "%s/Desktop", home);
    }
}

/* dir/stem.ext, made unique within the generator: "stem (2).ext", ... */
static char *unique_path(avtb_honeygen *g, const char *dir, const char *stem, const char *ext,
                         bool win)
{
    char *path = NULL;

    for (unsigned n = 1; n < 1000; n++) {
        free(path);
        path = NULL;
        if (n == 1 ? asprintf(&path, "%s/%s.%s", dir, stem, ext) < 0
                   : asprintf(&path, win ? "%s/%s (%u).%s" : "%s/%s_%u.%s", dir, stem, n, ext) < 0)
            return NULL;
        if (path_free(g, path))
            return path;
    }
    free(path);
    return NULL;
}

/*
 * Backdated times, all before now: a document was last edited on a working
 * day within three weeks of its creation (a saved message or a download
 * not at all), and last read some time after that.
 */
static void set_times(doc_ctx *c, int64_t now, bool edited, avtb_honeydoc *d)
{
    int64_t room;

    d->mtime = c->created;
    if (edited) {
        int64_t t = weekday_time(&c->r, c->created / DAY + (int64_t)range(&c->r, 0, 21));

        if (t > c->created && t < now - 3600)
            d->mtime = t;
    }
    room = now - 600 - d->mtime;
    d->atime = d->mtime + (room > 0 ? (int64_t)below(&c->r, (size_t)room) : 0);
}

static void to_lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static const char *meta_where(avtb_doc_format f)
{
    switch (f) {
    case AVTB_FMT_DOCX:
    case AVTB_FMT_XLSX:
        return "core properties (dc:description, cp:keywords)";
    case AVTB_FMT_PDF:
        return "Info dictionary (/Keywords, /Subject)";
    case AVTB_FMT_EML:
        return "X-Document-Reference header and Message-ID";
    default:
        return NULL; /* no metadata to carry a token */
    }
}

static const char *beacon_where(avtb_doc_format f)
{
    switch (f) {
    case AVTB_FMT_TXT:
        return "line \"Figures: URL\"";
    case AVTB_FMT_CSV:
        return "row of its own before the closing marking";
    case AVTB_FMT_EML:
        return "letterhead <img> at the top of the HTML part";
    case AVTB_FMT_DOCX:
        return "linked letterhead picture (external image relationship)";
    case AVTB_FMT_XLSX:
        return "cell with an external hyperlink";
    case AVTB_FMT_PDF:
        return "line \"Figures: URL\" under a /URI link annotation";
    default:
        return NULL;
    }
}

/* One non-archive document's bytes and tokens; member names the archive member or NULL. */
typedef struct rendered {
    uint8_t *buf;
    size_t len;
    char *title, *beacon_host;
} rendered;

static avtb_err render_one(avtb_honeygen *g, doc_ctx *c, avtb_doc_format f, const char *member,
                           avtb_honeydoc *d, rendered *out, avtb_error *err)
{
    char body_tok[AVTB_TOKEN_LEN + 1], meta_tok[AVTB_TOKEN_LEN + 1], beacon_tok[AVTB_TOKEN_LEN + 1];
    char where[640], prefix[256] = "", host[128], url[256], from[128], to[128];
    char *paras[16] = {0}, *title = NULL, *subject = NULL;
    const char *pm[16];
    size_t np = 0, token_para = 0;
    table t = {0};
    avtb_doc_model m = {0};
    avtb_err r;
    bool tabular = f == AVTB_FMT_CSV || f == AVTB_FMT_XLSX;
    const char *mw = meta_where(f);

    memset(out, 0, sizeof(*out));
    if (member != NULL)
        snprintf(prefix, sizeof(prefix), "archive member %s: ", member);
    /* Tokens in a fixed order (body, metadata, beacon): a test's token source sees the same
     * calls for the same seed. */
    r = g->token(g->token_ctx, body_tok, err);
    if (r == AVTB_OK && mw != NULL)
        r = g->token(g->token_ctx, meta_tok, err);
    if (r == AVTB_OK)
        r = g->token(g->token_ctx, beacon_tok, err);
    if (r != AVTB_OK)
        return r;
    r = AVTB_ERR_NOMEM;
    title = strdup(c->title);
    if (title == NULL)
        goto out;
    /* Prose: the kind's paragraphs in order, a few generic ones mixed in, one carrying the
     * token; a spreadsheet gets the kind's notes under its table (csv has no room). */
    if (f != AVTB_FMT_CSV) {
        size_t nk = 0, ng = tabular ? 0 : range(&c->r, 1, 3);

        while (c->kind->paras[nk] != NULL)
            nk++;
        if (f == AVTB_FMT_EML) {
            char first[32];

            sscanf(c->recipient, "%31s", first);
            paras[np++] = expand_dup(c, chance(&c->r, 50) ? "Dear {T}," : "{T},", first);
        }
        for (size_t i = 0; i < nk && np < 10; i++)
            if (i < 2 || chance(&c->r, 75))
                paras[np++] = expand_dup(c, c->kind->paras[i], NULL);
        for (size_t i = 0; i < ng && np < 12; i++)
            paras[np++] = expand_dup(c, PICK(&c->r, generic_paras), NULL);
        token_para = (f == AVTB_FMT_EML ? 1 : 0) + below(&c->r, np - (f == AVTB_FMT_EML));
        if (!tabular) {
            char *sentence = expand_dup(c, PICK(&c->r, token_sentences), body_tok), *joined;

            if (sentence == NULL || paras[token_para] == NULL ||
                asprintf(&joined, "%s %s", paras[token_para], sentence) < 0)
                joined = NULL;
            free(sentence);
            free(paras[token_para]);
            paras[token_para] = joined;
        }
        if (f == AVTB_FMT_EML) {
            paras[np++] = strdup("Kind regards,");
            paras[np++] = strdup(c->author);
            paras[np++] = expand_dup(c, "{unit} | {org}", NULL);
        }
        for (size_t i = 0; i < np; i++)
            if (paras[i] == NULL)
                goto out;
        snprintf(where, sizeof(where), "%sparagraph %zu", prefix, token_para + 1);
    }
    if (c->kind->table != T_NONE && f != AVTB_FMT_TXT) {
        r = make_table(c, tabular ? body_tok : NULL, &t, err);
        if (r != AVTB_OK)
            goto out;
        r = AVTB_ERR_NOMEM;
        if (!tabular) {
            /* A table in a document: the token stays in the prose; the reference cell keeps
             * a plain reference. */
            char ref[48];

            snprintf(ref, sizeof(ref), "%s/%02d/%04zu", c->org->abbr, c->tm.tm_year % 100,
                     range(&c->r, 1, 9999));
            free(t.cells[t.token_row * t.ncols + t.ncols - 1]);
            if ((t.cells[t.token_row * t.ncols + t.ncols - 1] = strdup(ref)) == NULL)
                goto out;
        } else {
            snprintf(where, sizeof(where), "%stable row %zu after the header, column \"%s\"",
                     prefix, t.token_row, t.cells[t.ncols - 1]);
        }
    }
    r = avtb_honeydoc_add_token(d, body_tok, AVTB_PLACE_BODY, where, member, err);
    if (r == AVTB_OK && mw != NULL) {
        snprintf(where, sizeof(where), "%s%s", prefix, mw);
        r = avtb_honeydoc_add_token(d, meta_tok, AVTB_PLACE_METADATA, where, member, err);
    }
    snprintf(host, sizeof(host), "%s.%s", beacon_tok, PICK(&c->r, beacon_domains));
    to_lower(host);
    snprintf(url, sizeof(url), "https://%s%s", host,
             f == AVTB_FMT_XLSX || f == AVTB_FMT_PDF ? PICK(&c->r, beacon_link_paths)
                                                     : PICK(&c->r, beacon_image_paths));
    if (r == AVTB_OK) {
        snprintf(where, sizeof(where), "%s%s: %s", prefix, beacon_where(f), url);
        r = avtb_honeydoc_add_token(d, beacon_tok, AVTB_PLACE_BEACON, where, member, err);
    }
    if (r != AVTB_OK)
        goto out;
    r = AVTB_ERR_NOMEM;
    for (size_t i = 0; i < np; i++)
        pm[i] = paras[i];
    m.marking = c->mk->name;
    m.title = title;
    m.author = c->author;
    m.organisation = c->org->name;
    m.reference = c->reference;
    m.created = (time_t)c->created;
    m.paragraphs = pm;
    m.nparagraphs = np;
    m.table = (const char *const *)t.cells;
    m.nrows = t.nrows;
    m.ncols = t.ncols;
    m.meta_token = mw != NULL ? meta_tok : NULL;
    m.beacon_url = url;
    if (f == AVTB_FMT_EML) {
        char a[64], rcp[64];

        snprintf(a, sizeof(a), "%s", c->author);
        snprintf(rcp, sizeof(rcp), "%s", c->recipient);
        to_lower(a);
        to_lower(rcp);
        *strchr(a, ' ') = '.';
        *strchr(rcp, ' ') = '.';
        snprintf(from, sizeof(from), "%s <%s@%s>", c->author, a, c->org->domain);
        snprintf(to, sizeof(to), "%s <%s@%s>", c->recipient, rcp, c->org->domain);
        m.from = from;
        m.to = to;
        /* UK practice puts the marking in the subject line. */
        if (asprintf(&subject, "%s: %s", c->mk->name, title) < 0) {
            subject = NULL;
            goto out;
        }
        m.title = subject;
    }
    r = avtb_doc_write(f, &m, &out->buf, &out->len, err);
    if (r != AVTB_OK)
        goto out;
    out->title = title;
    title = NULL; /* transferred */
    r = AVTB_ERR_NOMEM;
    if ((out->beacon_host = strdup(host)) == NULL)
        goto out;
    r = AVTB_OK;
out:
    if (r == AVTB_ERR_NOMEM)
        avtb_error_set(err, r, "out of memory generating %s", d->guest_path);
    if (r != AVTB_OK) {
        free(out->buf);
        free(out->title);
        free(out->beacon_host);
        memset(out, 0, sizeof(*out));
    }
    for (size_t i = 0; i < np; i++)
        free(paras[i]);
    free(title);
    free(subject);
    table_free(&t);
    return r;
}

/* An archive: "eicar.com" and a classified docx or txt, in an order the seed picks. */
static avtb_err render_archive(avtb_honeygen *g, doc_ctx *c, const avtb_honeygen_req *req,
                               avtb_honeydoc *d, rendered *out, avtb_error *err)
{
    avtb_doc_format inner = chance(&c->r, 60) ? AVTB_FMT_DOCX : AVTB_FMT_TXT;
    char stem[160], name[200];
    rendered doc = {0};
    avtb_doc_member members[2];
    avtb_doc_model m = {0};
    bool eicar_first = chance(&c->r, 50);
    avtb_err r;

    /* The inner document is a prose or table kind that fits docx/txt. */
    if (!kind_fits(c->kind, c->mk->level, inner))
        inner = AVTB_FMT_DOCX;
    file_stem(c, req->os, inner, stem, sizeof(stem));
    snprintf(name, sizeof(name), "%s.%s", stem, avtb_doc_format_name(inner));
    r = render_one(g, c, inner, name, d, &doc, err);
    if (r != AVTB_OK)
        return r;
    r = avtb_honeydoc_add_member(d, name, doc.buf, doc.len, err);
    if (r != AVTB_OK)
        goto out;
    members[eicar_first ? 0 : 1] = (avtb_doc_member){
        .name = "eicar.com", .data = (const uint8_t *)AVTB_EICAR, .len = strlen(AVTB_EICAR)};
    members[eicar_first ? 1 : 0] = (avtb_doc_member){.name = name, .data = doc.buf, .len = doc.len};
    m.marking = c->mk->name;
    m.title = doc.title;
    m.author = c->author;
    m.organisation = c->org->name;
    m.reference = c->reference;
    m.created = (time_t)c->created;
    m.members = members;
    m.nmembers = 2;
    r = avtb_doc_write(req->format, &m, &out->buf, &out->len, err);
    if (r != AVTB_OK)
        goto out;
    out->title = doc.title;
    out->beacon_host = doc.beacon_host;
    doc.title = doc.beacon_host = NULL; /* transferred */
out:
    free(doc.buf);
    free(doc.title);
    free(doc.beacon_host);
    return r;
}

avtb_err avtb_honeygen_next(avtb_honeygen *g, const avtb_honeygen_req *req, avtb_honeydoc **out,
                            avtb_error *err)
{
    doc_ctx c = {0};
    const marking_def *mk;
    placement pl;
    char stem[160], *path = NULL;
    avtb_honeydoc *d = NULL;
    rendered rd = {0};
    bool archive = req->format == AVTB_FMT_ZIP || req->format == AVTB_FMT_7Z;
    avtb_err r = AVTB_ERR_NOMEM;

    *out = NULL;
    if (req->format >= AVTB_FMT_COUNT)
        return avtb_error_set(err, AVTB_ERR_INTERNAL, "unknown document format %d",
                              (int)req->format);
    if (req->marking != NULL && find_marking(req->marking) == NULL)
        return avtb_error_set(err, AVTB_ERR_USAGE, "unknown marking '%s'", req->marking);
    if (req->user != NULL && !avtb_honeygen_user_valid(req->user))
        return avtb_error_set(err, AVTB_ERR_USAGE, "user '%s' cannot name a home folder",
                              req->user);
    rng_init(&c.r, g->seed, g->count++);
    mk = req->marking ? find_marking(req->marking) : &PICK(&c.r, markings);
    ctx_init(&c, mk, archive ? AVTB_FMT_DOCX : req->format, g->now);
    if (c.title == NULL)
        goto out;
    place_doc(&c, req, &pl);
    if (archive) {
        static const char *const archive_stems[] = {"{unit_abbr} papers", "Documents for review",
                                                    "Attachments", "{project} pack",
                                                    "Scanned papers"};
        char *words = expand_dup(&c, PICK(&c.r, archive_stems), NULL), clean[128];

        clean_words(words ? words : "Attachments", clean, sizeof(clean));
        free(words);
        snprintf(stem, sizeof(stem), "%s %04d-%02d-%02d", clean, c.tm.tm_year + 1900,
                 c.tm.tm_mon + 1, c.tm.tm_mday);
        if (req->os == AVTB_HONEY_OS_LINUX)
            for (char *p = stem; *p; p++)
                if (*p == ' ')
                    *p = '_';
    } else {
        file_stem(&c, req->os, req->format, stem, sizeof(stem));
    }
    path = unique_path(g, pl.dir, stem, avtb_doc_format_name(req->format),
                       req->os == AVTB_HONEY_OS_WINDOWS);
    if (path == NULL || (d = avtb_honeydoc_new(path)) == NULL)
        goto out;
    d->uid = pl.uid;
    d->gid = pl.gid;
    d->mode = pl.mode;
    d->format = avtb_doc_format_name(req->format);
    r = archive ? render_archive(g, &c, req, d, &rd, err)
                : render_one(g, &c, req->format, NULL, d, &rd, err);
    if (r != AVTB_OK)
        goto out;
    r = AVTB_ERR_NOMEM;
    avtb_honeydoc_set_content(d, rd.buf, rd.len);
    rd.buf = NULL; /* transferred */
    d->title = rd.title;
    d->beacon_host = rd.beacon_host;
    rd.title = rd.beacon_host = NULL; /* transferred */
    if ((d->marking = strdup(mk->name)) == NULL)
        goto out;
    set_times(&c, g->now, !archive && req->format != AVTB_FMT_EML, d);
    r = avtb_honeygen_reserve(g, path, err);
    if (r != AVTB_OK)
        goto out;
    *out = d;
    d = NULL; /* transferred */
out:
    if (r == AVTB_ERR_NOMEM)
        avtb_error_set(err, r, "out of memory generating a honey document");
    free(rd.buf);
    free(rd.title);
    free(rd.beacon_host);
    free(c.title);
    free(path);
    avtb_honeydoc_free(d);
    return r;
}
