/* neurospectra report OUTPUT_DIR: (re)generates the HTML reports. */
/* requires: report nifti_io */
#include <getopt.h>
#include <stdio.h>

#include "cli_util.h"
#include "report/report.h"

const char ns_cmd_report_summary[] = "write OUTPUT_DIR/report.html and one page per subject";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: neurospectra report OUTPUT_DIR [--participants FILE] [--groups COLUMN] [--no-subjects] [-q|--quiet]\n\n"
            "Writes a self-contained OUTPUT_DIR/report.html (group maps per model order, stability,\n"
            "cross-order correlations, FNC and group differences, classification, gradient spectra,\n"
            "rank against bound, dAD bandwidth) and OUTPUT_DIR/sub-<label>.html per subject, from\n"
            "whatever the other stages have written there.\n\n"
            "  --participants FILE  participants.tsv for group differences (default OUTPUT_DIR/group/participants.tsv)\n"
            "  --groups COLUMN      column that defines the groups (default diagnosis)\n"
            "  --no-subjects        only the study page\n");
}

int ns_cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {{"participants", required_argument, 0, 'p'},
                                         {"groups", required_argument, 0, 'g'},
                                         {"no-subjects", no_argument, 0, 'n'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    ns_report_opts o;
    ns_report_opts_default(&o);
    int c, quiet = 0;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {
        case 'p': o.participants = optarg; break;
        case 'g': o.groups = optarg; break;
        case 'n': o.subject_pages = 0; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return NS_EXIT_OK;
        default: return ns_cli_usage_error("report", "invalid option");
        }
    }
    if (optind + 1 != argc)
        return ns_cli_usage_error("report", "expected one OUTPUT_DIR");
    ns_cli_set_verbosity(quiet, 0);
    int pages;
    if (ns_report_study(argv[optind], &o, &pages))
        return ns_cli_fail();
    ns_info("wrote %d page(s): %s/report.html", pages, argv[optind]);
    return NS_EXIT_OK;
}
