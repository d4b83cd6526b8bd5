"""What-if tools for issuers: replay recorded payments under a draft rule set, and
simulate a synthetic city (issue "Budget foresight")."""
