/*
 * commands.h - the control socket's commands (status, reload, stop,
 * log-reopen, help) and the status document.  The master opens the
 * control socket (control.c) with nl_commands_run() as its callback.
 */
#ifndef NL_COMMANDS_H
#define NL_COMMANDS_H

struct nl_buf;
struct nl_commands; /* master_int.h */
struct nl_control_client;
struct nl_master;

/* What became of a command's answer. */
enum nl_cmd_outcome {
    NL_CMD_REPLY,           /* the answer is written */
    NL_CMD_REPLY_THEN_STOP, /* the answer is written; then netlabd stops */
    NL_CMD_LATER,           /* the client is answered later (reload) */
};

/* Writes the answer to the command line into b (a JSON document, no
 * newline); c is who asked, for an answer given later. */
enum nl_cmd_outcome nl_commands_answer(struct nl_commands *cmds,
                                       struct nl_control_client *c,
                                       const char *line, struct nl_buf *b);

/* Runs the command line (without its "\n"); arg is a struct nl_commands.
 * Answers c, at once or (reload) when done. */
void nl_commands_run(void *arg, struct nl_control_client *c, const char *line);

/* Reopens the log file (SIGUSR1, `log-reopen`), and logs the outcome:
 * 0, or -1 with errno set. */
int nl_commands_log_reopen(void);

/* Appends the status document (DESIGN.md, the control socket). */
void nl_commands_status(struct nl_master *m, struct nl_buf *b);

#endif /* NL_COMMANDS_H */
