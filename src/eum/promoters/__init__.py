"""Field promoters (지원활동가): visits to shops, sign-ups they brought, stickers."""
