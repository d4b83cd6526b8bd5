"""Services for merchants: the phone-order directory, and the Benefit Plus merchants'
free consultations, credit-guarantee fee certificate and QR kit."""
