"""What the two front doors (pages in schulden.web, JSON in schulden.api) share: the request's database session and
the error answers (problem+json for the API, a Dutch page elsewhere)."""
